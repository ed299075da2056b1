// Command nosync opens a store with NoSync from a binary that is not a
// test, as a production wiring forcing it would; store's tests run it and
// expect Open to refuse.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/shopbot/shopbot/store"
)

func main() {
	db, err := store.Open(context.Background(), store.Options{Path: os.Args[1], NoSync: true})
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	db.Close()
	fmt.Println("opened without fsync")
	os.Exit(1)
}
