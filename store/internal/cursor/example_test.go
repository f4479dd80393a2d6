package cursor_test

import (
	"fmt"

	"github.com/mailcorrelate/mailcorrelate/store/internal/cursor"
)

func Example() {
	c := cursor.Encode(1_772_355_600_000_000, 42)
	at, id, err := cursor.Decode(c)
	fmt.Println(at, id, err)
	_, _, err = cursor.Decode("not a cursor")
	fmt.Println(err)
	// Output:
	// 1772355600000000 42 <nil>
	// store: bad cursor: not a cursor
}
