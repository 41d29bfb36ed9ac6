// Command mailmend finds out why a mail account stopped working, names the
// cause and repairs it. Run `mailmend --help` for the commands.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], newSystemEnv())) }
