package ansible

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

var (
	netDialer = net.Dialer{Timeout: 30 * time.Second}
	logMu     sync.Mutex
)

// lockedWriter lets sshd's stdout and stderr share one buffer.
type lockedWriter struct{ w io.Writer }

func (l *lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return l.w.Write(p)
}

// startProxy serves an HTTP proxy (plain requests and CONNECT) on the namespace's loopback
// and returns its URL. The listening socket belongs to the namespace, the connections it
// makes onward to this machine's network: that is how apt and pip inside the throwaway host
// reach Debian's mirror and PyPI while the test's own traffic never leaves the namespace.
func startProxy(t *testing.T, h *host) string {
	t.Helper()
	var ln net.Listener
	if err := h.ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatalf("proxy listener in %s: %v", h.ns.Name(), err)
	}
	transport := &http.Transport{Proxy: nil, DialContext: netDialer.DialContext, MaxIdleConnsPerHost: 4,
		ResponseHeaderTimeout: time.Minute}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			tunnel(w, r)
			return
		}
		if r.URL.Host == "" {
			http.Error(w, "this is a proxy", http.StatusBadRequest)
			return
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.Header.Del("Proxy-Connection")
		resp, err := transport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
		transport.CloseIdleConnections()
		<-done
	})
	return "http://" + ln.Addr().String()
}

// tunnel serves CONNECT host:port (HTTPS to PyPI) by copying bytes both ways.
func tunnel(w http.ResponseWriter, r *http.Request) {
	up, err := netDialer.DialContext(r.Context(), "tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "no hijacking", http.StatusInternalServerError)
		return
	}
	down, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if n := buf.Reader.Buffered(); n > 0 {
			b, _ := buf.Reader.Peek(n)
			up.Write(b)
		}
		io.Copy(up, down)
		if c, ok := up.(*net.TCPConn); ok {
			c.CloseWrite()
		}
	}()
	go func() {
		defer wg.Done()
		io.Copy(down, up)
		if c, ok := down.(*net.TCPConn); ok {
			c.CloseWrite()
		}
	}()
	wg.Wait()
	up.Close()
	down.Close()
}
