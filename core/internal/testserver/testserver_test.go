package testserver

import (
	"bufio"
	"net"
	"testing"
	"time"
)

func TestServe(t *testing.T) {
	accepted := make(chan struct{}, 1)
	addr := Serve(t, nil, accepted, func(c net.Conn) {
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("echo " + line))
	})
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hi\n"))
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "echo hi\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	select {
	case <-accepted:
	case <-time.After(time.Second):
		t.Fatal("the connection was not announced")
	}
}
