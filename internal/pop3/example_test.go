package pop3_test

import (
	"fmt"
	"net"
	"time"

	"github.com/mailcorrelate/mailcorrelate/internal/pop3"
	"github.com/mailcorrelate/mailcorrelate/internal/pop3fake"
)

// A session as a mailbox sync runs it: capabilities, login, the unique ids
// and sizes, the headers by TOP n 0 (pipelined), QUIT.
func Example() {
	srv, _ := pop3fake.Start(nil)
	defer srv.Close()
	srv.AddUser("anna", "secret")
	srv.Append("anna", []byte("From: joe@contoso.example\r\nSubject: Printer offline\r\n\r\nHelp!\r\n"))
	srv.Append("anna", []byte("From: joe@contoso.example\r\nSubject: Re: Printer offline\r\n\r\n.Still.\r\n"))

	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := pop3.NewClient(conn, 10*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	caps, _ := c.Capa()
	if err := c.Login("anna", "secret"); err != nil {
		fmt.Println(err)
		return
	}
	ids, _ := c.UIDL()
	sizes, _ := c.List()
	nums := []int{}
	for i, e := range ids {
		fmt.Printf("message %d: UIDL %s, %d bytes\n", e.Num, e.UIDL, sizes[i].Size)
		nums = append(nums, e.Num)
	}
	res, _ := c.TopMany(nums, 0, 1<<10, caps.Has("PIPELINING"))
	for _, r := range res {
		fmt.Printf("TOP %d 0: %q\n", r.Num, r.Data)
	}
	body, _ := c.Retr(2, 1<<10)
	fmt.Printf("RETR 2: %q\n", body)
	fmt.Println(c.Quit())
	// Output:
	// message 1: UIDL 00000001, 62 bytes
	// message 2: UIDL 00000002, 68 bytes
	// TOP 1 0: "From: joe@contoso.example\r\nSubject: Printer offline\r\n\r\n"
	// TOP 2 0: "From: joe@contoso.example\r\nSubject: Re: Printer offline\r\n\r\n"
	// RETR 2: "From: joe@contoso.example\r\nSubject: Re: Printer offline\r\n\r\n.Still.\r\n"
	// <nil>
}

// A server's refusal is an *Error with its response code; [IN-USE] (the
// maildrop locked by another session) is temporary.
func ExampleError() {
	srv, _ := pop3fake.Start(nil)
	defer srv.Close()
	srv.AddUser("anna", "secret")
	srv.SetInUse(true)
	conn, _ := net.Dial("tcp", srv.Addr)
	c, _ := pop3.NewClient(conn, 10*time.Second)
	defer c.Close()
	err := c.Login("anna", "secret")
	fmt.Println(err)
	if pe, ok := err.(*pop3.Error); ok {
		fmt.Println(pe.Code, pe.Temporary())
	}
	// Output:
	// pop3: PASS refused: -ERR [IN-USE] the maildrop is locked by another session
	// IN-USE true
}
