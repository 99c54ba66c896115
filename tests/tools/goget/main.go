// goget: Go's net/http client for tests/clients.bats.  Fetches the URL in
// argv[1] through the proxy in HTTPS_PROXY, with the CA in argv[2] as the
// only trusted root; prints the status code, the protocol and the body.
// Exits 1 on any error.
//
// http.ProxyFromEnvironment reads HTTPS_PROXY too, but never proxies a
// loopback destination, and the test targets live on loopback: the URL is
// taken from the variable here and handed to http.ProxyURL, which the
// Transport then uses exactly as it would the environment's.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
)

func main() {
	pem, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		fmt.Fprintln(os.Stderr, "no certificate in", os.Args[2])
		os.Exit(1)
	}
	proxy, err := url.Parse(os.Getenv("HTTPS_PROXY"))
	if err != nil || proxy.Host == "" {
		fmt.Fprintln(os.Stderr, "HTTPS_PROXY is not a proxy URL")
		os.Exit(1)
	}
	tr := &http.Transport{
		Proxy:             http.ProxyURL(proxy),
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
	}
	resp, err := (&http.Client{Transport: tr}).Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d %s\n%s", resp.StatusCode, resp.Proto, body)
}
