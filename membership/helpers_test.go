package membership_test

import (
	"os"
	"path/filepath"
)

// readFile reads a database file and its WAL, where fresh writes live.
func readFile(path string) (string, error) {
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(filepath.Clean(p))
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
		all = append(all, data...)
	}
	return string(all), nil
}
