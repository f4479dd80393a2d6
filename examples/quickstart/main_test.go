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
	// incident:CAS-01042 by InReplyTo (1.00): In-Reply-To names a tracked email
	// tracked CAJ1x@mail.contoso.example as email 2, correlated with email 1
}
