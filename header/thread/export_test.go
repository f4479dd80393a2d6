package thread

// PlainID exports plainID for the test that holds it to header.Junk.
var PlainID = plainID
