package store

import (
	"os"
	"syscall"
)

// fdatasync flushes the file's data without its timestamps: the journal
// overwrites preallocated blocks, so nothing else needs the disk.
func fdatasync(f *os.File) error {
	return syscall.Fdatasync(int(f.Fd()))
}
