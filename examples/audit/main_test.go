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
	// incident:CAS-1 by InReplyTo (1.00): In-Reply-To names a tracked email
	//   step folder: no record
	//   step inreplyto: incident:CAS-1 by InReplyTo (1.00): In-Reply-To names a tracked email
	//   step token: incident:CAS-2 by TrackingToken (0.90): token CRM:0001002 names tracked email 2
	//   step conversation: no record
	//   conflict token: incident:CAS-2 by TrackingToken (0.90): token CRM:0001002 names tracked email 2; sender jane@contoso.example took part: a participant of tracked email 2
}
