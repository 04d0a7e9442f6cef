// The connection layer of vkcls serve, under cpp-httplib 0.11 (Debian's compiled
// libcpp-httplib, not patched): httplib parses requests and writes responses
// (Server::process_request), this layer owns the sockets.
//
//   accept (httplib's loop) -> waiter thread (epoll): reads until a request's header block is
//   complete, without a worker -> worker pool: process_request on a stream over the
//   connection's own buffer -> back to the waiter for the next request (keep-alive).
//
// What httplib's own socket loop lacked (issue 14):
//   - a deadline per request for headers and body (request_timeout_s), on top of the silence
//     limit per read (read_timeout_s); a slow-loris client trickling header bytes holds no
//     worker at all, and is cut off at the deadline (408);
//   - pipelined requests: the bytes read past one request stay in the connection's buffer
//     for the next (httplib dropped them with its per-request stream);
//   - one write per response (headers and body buffered) and TCP_NODELAY;
//   - the listening socket without SO_REUSEPORT (a second server on the port fails to bind)
//     and with a backlog of SOMAXCONN (httplib: 5);
//   - telling a client that half-closed (shutdown(SHUT_WR)) from one that went away:
//     request_client_gone() below.
#pragma once
#include <httplib.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace vkcls::server {

struct TransportOptions {
  size_t threads = 64;         // workers running requests (a waiting connection holds none)
  int read_timeout_s = 10;     // silence allowed mid-request, per read
  int request_timeout_s = 30;  // headers + body of one request must arrive within this
  int write_timeout_s = 10;
  int keep_alive_timeout_s = 5;  // an idle keep-alive connection is closed after this
  size_t keep_alive_max_count = 1000;
  size_t max_header_bytes = 64 << 10;  // a longer header block: 431
  // the JSON body of the errors this layer answers itself (408, 431)
  std::function<std::string(int status, const std::string& message)> error_body;
};

class TransportServer : public httplib::Server {
 public:
  explicit TransportServer(const TransportOptions& options);
  ~TransportServer() override;
  // Binds (no SO_REUSEPORT; backlog SOMAXCONN) and starts the waiter and the workers;
  // returns the port, or -1 when the address cannot be bound. port 0: any free port.
  int bind(const std::string& host, int port);
  // Serves until httplib::Server::stop(); then lets in-flight requests finish and closes
  // every connection before returning.
  void serve();

 private:
  bool process_and_close_socket(socket_t sock) override;
  bool process_one(httplib::Stream& strm, bool last, bool& closed);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// For handlers, about the connection of the request this thread is running:
// true once the client is gone. A read side at end-of-file may be a client that half-closed
// and still reads: for an HTTP/1.1 request the first such check writes an interim
// "100 Continue" (which HTTP/1.1 clients skip); a client that closed its socket answers it
// with a reset, seen by a later check; one that half-closed just reads on.
bool request_client_gone(bool http11);
// The connection closes after this response (e.g. a request body left unread).
void request_close_after();
// The request's deadline or read timeout passed while its body was being read.
bool request_timed_out();

}  // namespace vkcls::server
