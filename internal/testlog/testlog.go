// Package testlog holds a log sink for tests: a Buffer that several
// goroutines may write to (a logger, a server under test) while the test
// reads what was written so far.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer guarded by a mutex, so it is safe for
// concurrent use. The zero value is empty and ready to use; a Buffer must
// not be copied after first use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
