// Command floor reads one item from the OS keyring and prints its size: the
// least a program that lists accounts from the keyring must do. The
// first-frame benchmark compares mailmend against it.
package main

import (
	"fmt"
	"os"

	"github.com/zalando/go-keyring"
)

func main() {
	v, err := keyring.Get(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(len(v))
}
