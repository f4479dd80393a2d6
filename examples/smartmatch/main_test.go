package main

import (
	"context"
	"fmt"
	"os"
)

// Example_run pins the program's output, so the example and its comments stay true.
func Example_run() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// dynamics incident:CAS-01020 by SmartMatching (0.40): subject words and 2 addresses match tracked email 2 (Dynamics smart matching)
	// improved incident:CAS-01019 by SmartMatching (0.69): same base subject as tracked email 1, sharing dana@proseware.example
}
