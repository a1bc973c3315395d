// Command netcheck is the real node's test program (its own image): a TCP server that answers one line, a
// TCP connect probe, and an in-cluster API client (ServiceAccount token + in-cluster config). Results are one
// line on stdout; the exit code says what happened (0 ok, 1 refused/failed, 2 timed out, 3 usage).
//
//	netcheck serve <port>                       answer "netcheck <hostname>\n" to every connection
//	netcheck connect <host:port> <ms> [<wait>]  connect, read the greeting line
//	netcheck whoami <ms> [<wait>]               POST a SelfSubjectReview to the API server from in-cluster config
//
// <wait> (milliseconds, default 0) delays the attempt: a NetworkPolicy engine programs a new Pod's firewall
// shortly after the Pod starts, and a test must observe the policy, not that moment.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		if len(os.Args) != 3 {
			usage()
		}
		serve(os.Args[2])
	case "connect":
		if len(os.Args) != 4 && len(os.Args) != 5 {
			usage()
		}
		wait(os.Args[4:])
		os.Exit(connect(os.Args[2], millis(os.Args[3])))
	case "whoami":
		if len(os.Args) != 3 && len(os.Args) != 4 {
			usage()
		}
		wait(os.Args[3:])
		os.Exit(whoami(millis(os.Args[2])))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: netcheck serve <port> | connect <host:port> <timeout-ms> [<wait-ms>] | whoami <timeout-ms> [<wait-ms>]")
	os.Exit(3)
}

func wait(optional []string) {
	if len(optional) == 1 {
		time.Sleep(millis(optional[0]))
	}
}

func millis(s string) time.Duration {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		usage()
	}
	return time.Duration(n) * time.Millisecond
}

func serve(port string) {
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Println("listen failed:", err)
		os.Exit(1)
	}
	host, _ := os.Hostname()
	fmt.Println("serving on", ln.Addr())
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			fmt.Fprintf(c, "netcheck %s\n", host)
		}(conn)
	}
}

// outcome classifies a network error: 2 for a timeout, 1 for anything else.
func outcome(err error) int {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return 2
	}
	return 1
}

func connect(addr string, timeout time.Duration) int {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		fmt.Println("connect failed:", err)
		return outcome(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fmt.Println("read failed:", err)
		return outcome(err)
	}
	fmt.Print("connected: ", line)
	return 0
}

func whoami(timeout time.Duration) int {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		fmt.Println("no in-cluster config: KUBERNETES_SERVICE_HOST/PORT unset")
		return 1
	}
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		fmt.Println("no ServiceAccount token:", err)
		return 1
	}
	caPem, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		fmt.Println("no ServiceAccount CA:", err)
		return 1
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPem)
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	url := "https://" + net.JoinHostPort(host, port) + "/apis/authentication.k8s.io/v1/selfsubjectreviews"
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(token)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println("request failed:", err)
		return outcome(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var review struct {
		Status struct {
			UserInfo struct {
				Username string `json:"username"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(data, &review) != nil {
		fmt.Printf("unexpected answer: HTTP %d %s\n", resp.StatusCode, data)
		return 1
	}
	fmt.Println("authenticated as", review.Status.UserInfo.Username)
	return 0
}
