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
	// sent: Printer offline CRM:0001001
	// AW: Printer offline – still broken CRM:0001001
	//   -> incident:CAS-01042 by TrackingToken (0.90): token CRM:0001001 names tracked email 1; sender jane@contoso.example took part: a participant of tracked email 1
	// AW: Printer offline
	//   -> incident:CAS-01042 by ConversationIndex (0.90): Thread-Index extends a tracked email's index by one block: a reply to it
	// Thread-Index: conversation 9e4b2f10-aa41-4c0b-9d3e-77215a600c81, depth 2, child of the first reply: true
}
