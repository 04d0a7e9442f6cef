// The connection layer of vkcls serve (see http_transport.h): a waiter thread that gathers
// each request's header block with epoll, workers that run httplib's process_request on a
// stream over the connection's buffer, deadlines, one write per response, lingering close.
#include "server/http_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace vkcls::server {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr size_t kRecvChunk = 16 << 10;
constexpr auto kLinger = seconds(2);  // reading and dropping what a closed-on client still sends

// One client connection; owned by the waiter or by one worker at a time, never both.
struct Conn {
  int fd = -1;
  std::string in;  // bytes received and not yet taken by httplib: in[in_off..]
  size_t in_off = 0;
  size_t scanned = 0;  // the header terminator is not in in[in_off..scanned)
  Clock::time_point deadline;
  bool request_started = false;  // bytes of the next request arrived (deadline: the request's)
  bool eof = false;              // the client's read side ended (closed or half-closed)
  bool lingering = false;        // closing: the rest of what the client sends is dropped
  size_t served = 0;
  // about the request being run
  bool close_after = false, probed = false, timed_out = false, io_failed = false;

  size_t pending() const { return in.size() - in_off; }
  void compact() {
    if (in_off == 0) return;
    in.erase(0, in_off);
    scanned = scanned > in_off ? scanned - in_off : 0;
    in_off = 0;
  }
  bool header_complete() {
    size_t from = std::max(in_off, scanned >= 3 ? scanned - 3 : 0);
    if (in.find("\r\n\r\n", from) != std::string::npos) return true;
    scanned = in.size();
    return false;
  }
};
using ConnPtr = std::shared_ptr<Conn>;

thread_local Conn* t_conn = nullptr;

int ms_until(Clock::time_point t) {
  auto d = std::chrono::duration_cast<milliseconds>(t - Clock::now()).count();
  return int(std::clamp<long long>(d, 0, 1 << 30));
}

// httplib::Stream over a Conn: reads from its buffer, then the socket within the request's
// deadline and the per-read timeout; writes are buffered and sent by flush().
class ConnStream final : public httplib::Stream {
 public:
  ConnStream(Conn& c, const TransportOptions& o) : c_(c), o_(o) {}

  bool is_readable() const override {
    if (c_.pending() > 0) return true;
    pollfd p{c_.fd, POLLIN, 0};
    return poll(&p, 1, std::min(o_.read_timeout_s * 1000, ms_until(c_.deadline))) > 0;
  }
  bool is_writable() const override { return !c_.io_failed; }

  ssize_t read(char* ptr, size_t size) override {
    if (c_.pending() == 0) {
      ssize_t got = fill();
      if (got <= 0) return got;
    }
    size_t n = std::min(size, c_.pending());
    std::memcpy(ptr, c_.in.data() + c_.in_off, n);
    c_.in_off += n;
    return ssize_t(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (c_.io_failed) return -1;
    out_.append(ptr, size);
    if (out_.size() >= (256u << 10) && !flush()) return -1;
    return ssize_t(size);
  }

  // Sends what was written; false when the client cannot be written to.
  bool flush() {
    size_t off = 0;
    while (off < out_.size() && !c_.io_failed) {
      ssize_t n = send(c_.fd, out_.data() + off, out_.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += size_t(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        pollfd p{c_.fd, POLLOUT, 0};
        if (poll(&p, 1, o_.write_timeout_s * 1000) <= 0) c_.io_failed = true;
      } else {
        c_.io_failed = true;
      }
    }
    out_.clear();
    return !c_.io_failed;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address(getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address(getsockname, ip, port);
  }
  socket_t socket() const override { return c_.fd; }

 private:
  // More bytes into c_.in: > 0 read, 0 end of stream, -1 timeout or error.
  ssize_t fill() {
    if (!out_.empty()) flush();  // e.g. httplib's "100 Continue" before it reads the body
    c_.compact();
    for (;;) {
      if (c_.eof) return 0;
      int wait = std::min(o_.read_timeout_s * 1000, ms_until(c_.deadline));
      pollfd p{c_.fd, POLLIN, 0};
      int r = wait > 0 ? poll(&p, 1, wait) : 0;
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        c_.timed_out = true;
        return -1;
      }
      if (r < 0) break;
      size_t old = c_.in.size();
      c_.in.resize(old + kRecvChunk);
      ssize_t n = recv(c_.fd, c_.in.data() + old, kRecvChunk, 0);
      c_.in.resize(old + size_t(std::max<ssize_t>(n, 0)));
      if (n > 0) return n;
      if (n == 0) {
        c_.eof = true;
        return 0;
      }
      if (errno != EAGAIN && errno != EINTR) break;
    }
    c_.io_failed = true;
    return -1;
  }

  template <class F>
  void address(F get, std::string& ip, int& port) const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ip.clear();
    port = 0;
    if (get(c_.fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;
    char host[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      port = ntohs(a->sin6_port);
    }
    ip = host;
  }

  Conn& c_;
  const TransportOptions& o_;
  std::string out_;
};

// httplib's accept loop hands each socket to a task queue: this one runs the task at once
// (process_and_close_socket below only registers the socket with the waiter).
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

void send_all_nowait(int fd, const std::string& s) {
  (void)!send(fd, s.data(), s.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

struct TransportServer::Impl {
  explicit Impl(const TransportOptions& o) : opt(o) {}
  TransportOptions opt;
  TransportServer* server = nullptr;
  int epfd = -1, wakefd = -1;
  std::mutex mu;
  std::vector<ConnPtr> incoming;  // for the waiter to (re)register
  bool waiter_done = false;
  std::atomic<bool> stopping{false};
  std::thread waiter;
  std::unique_ptr<httplib::ThreadPool> pool;

  void wake() {
    uint64_t one = 1;
    (void)!::write(wakefd, &one, sizeof one);
  }
  void to_waiter(ConnPtr c) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!waiter_done) {
        incoming.push_back(std::move(c));
        c = nullptr;
      }
    }
    if (c)
      ::close(c->fd);
    else
      wake();
  }
  // Closing a connection whose client may still be sending: shut our side, drop the rest
  // for a moment, so that the client reads our answer instead of a reset.
  void linger(ConnPtr c) {
    shutdown(c->fd, SHUT_WR);
    c->lingering = true;
    c->deadline = Clock::now() + kLinger;
    to_waiter(std::move(c));
  }
  std::string error_response(int status, const char* reason, const std::string& message) {
    std::string body = opt.error_body ? opt.error_body(status, message) : message;
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  void waiter_loop();
  void work(ConnPtr c);
};

void TransportServer::Impl::waiter_loop() {
  std::unordered_map<int, ConnPtr> waiting;
  auto drop = [&](int fd) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
    waiting.erase(fd);
    ::close(fd);
  };
  std::vector<epoll_event> events(64);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      for (ConnPtr& c : incoming) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.fd = c->fd;
        epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
        waiting[c->fd] = std::move(c);
      }
      incoming.clear();
      if (stopping) {
        waiter_done = true;
        for (auto& [fd, c] : waiting) ::close(fd);
        return;
      }
    }
    // deadlines: a partial request gets 408, an idle keep-alive connection is just closed
    auto now = Clock::now();
    int timeout = 1000;
    std::vector<int> expired;
    for (auto& [fd, c] : waiting) {
      if (c->deadline <= now)
        expired.push_back(fd);
      else
        timeout = std::min(timeout, ms_until(c->deadline) + 1);
    }
    for (int fd : expired) {
      Conn& c = *waiting[fd];
      if (c.request_started && !c.lingering)
        send_all_nowait(fd, error_response(408, "Request Timeout",
                                           "the request did not arrive within " +
                                               std::to_string(opt.request_timeout_s) +
                                               " s (--request-timeout)"));
      drop(fd);
    }
    int n = epoll_wait(epfd, events.data(), int(events.size()), timeout);
    for (int i = 0; i < n; ++i) {
      int fd = events[size_t(i)].data.fd;
      if (fd == wakefd) {
        uint64_t v;
        (void)!::read(wakefd, &v, sizeof v);
        continue;
      }
      auto it = waiting.find(fd);
      if (it == waiting.end()) continue;
      ConnPtr c = it->second;
      // read what is there (the socket is non-blocking)
      bool failed = false;
      for (;;) {
        size_t old = c->in.size();
        c->in.resize(old + kRecvChunk);
        ssize_t r = recv(fd, c->in.data() + old, kRecvChunk, 0);
        c->in.resize(old + size_t(std::max<ssize_t>(r, 0)));
        if (r > 0) {
          if (c->lingering) c->in.clear(), c->in_off = c->scanned = 0;
          if (!c->request_started && !c->lingering) {
            c->request_started = true;
            c->deadline = Clock::now() + seconds(opt.request_timeout_s);
          }
          if (c->pending() > opt.max_header_bytes) break;
          continue;
        }
        if (r == 0) c->eof = true;
        if (r < 0 && errno != EAGAIN && errno != EINTR) failed = true;
        break;
      }
      if (c->lingering) {
        if (c->eof || failed) drop(fd);
        continue;
      }
      if (!failed && c->pending() > 0 && c->header_complete()) {
        // a whole header block: to a worker (even after EOF: a half-closed client still reads)
        epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
        waiting.erase(fd);
        pool->enqueue([this, c] { work(c); });
      } else if (failed || c->eof) {
        drop(fd);
      } else if (c->pending() > opt.max_header_bytes) {
        send_all_nowait(fd, error_response(431, "Request Header Fields Too Large",
                                           "the request's header block is larger than " +
                                               std::to_string(opt.max_header_bytes) + " bytes"));
        drop(fd);
      }
    }
  }
}

void TransportServer::Impl::work(ConnPtr c) {
  ConnStream strm(*c, opt);
  t_conn = c.get();
  for (;;) {
    c->close_after = c->probed = c->timed_out = c->io_failed = false;
    bool last = c->served + 1 >= opt.keep_alive_max_count || stopping;
    bool closed = false;
    bool ok = server->process_one(strm, last, closed);
    bool sent = strm.flush();
    ++c->served;
    c->compact();
    c->scanned = 0;
    if (!ok || !sent || closed || last || c->close_after || c->timed_out || c->eof) break;
    c->request_started = c->pending() > 0;
    c->deadline = Clock::now() +
                  seconds(c->request_started ? opt.request_timeout_s : opt.keep_alive_timeout_s);
    if (c->request_started && c->header_complete()) continue;  // pipelined: the next one now
    t_conn = nullptr;
    to_waiter(std::move(c));
    return;
  }
  t_conn = nullptr;
  if (c->io_failed || c->eof) {
    ::close(c->fd);
  } else {
    linger(std::move(c));
  }
}

TransportServer::TransportServer(const TransportOptions& options)
    : impl_(std::make_unique<Impl>(options)) {
  impl_->server = this;
  new_task_queue = [] { return new InlineQueue; };
  // httplib's default also sets SO_REUSEPORT: a second server on the port would bind and
  // take half the connections. SO_REUSEADDR alone lets a restart bind past TIME_WAIT.
  set_socket_options([](socket_t s) {
    int yes = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  set_keep_alive_timeout(options.keep_alive_timeout_s);  // for the Keep-Alive header it writes
  set_keep_alive_max_count(options.keep_alive_max_count);
}

TransportServer::~TransportServer() {
  if (impl_->pool) impl_->pool->shutdown();  // serve() never ran to its end
  if (impl_->epfd >= 0) ::close(impl_->epfd);
  if (impl_->wakefd >= 0) ::close(impl_->wakefd);
}

int TransportServer::bind(const std::string& host, int port) {
  int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
  if (bound < 0) return -1;
  ::listen(svr_sock_, SOMAXCONN);  // httplib listens with a backlog of 5; this raises it
  return bound;
}

bool TransportServer::process_one(httplib::Stream& strm, bool last, bool& closed) {
  return process_request(strm, last, closed, nullptr);
}

void TransportServer::serve() {
  Impl& m = *impl_;
  m.epfd = epoll_create1(EPOLL_CLOEXEC);
  m.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = m.wakefd;
  epoll_ctl(m.epfd, EPOLL_CTL_ADD, m.wakefd, &ev);
  m.pool = std::make_unique<httplib::ThreadPool>(std::max<size_t>(1, m.opt.threads));
  m.waiter = std::thread([&m] { m.waiter_loop(); });
  listen_after_bind();
  // stopped: requests being run finish (each then closes its connection), waiting ones close
  m.stopping = true;
  m.wake();
  m.waiter.join();
  m.pool->shutdown();
  m.pool.reset();
}

bool TransportServer::process_and_close_socket(socket_t sock) {
  int yes = 1;
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
  auto c = std::make_shared<Conn>();
  c->fd = sock;
  c->request_started = true;  // a new connection owes a request within the deadline
  c->deadline = Clock::now() + seconds(impl_->opt.request_timeout_s);
  impl_->to_waiter(std::move(c));
  return true;
}

bool request_client_gone(bool http11) {
  Conn* c = t_conn;
  if (!c) return false;
  pollfd p{c->fd, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return true;
  bool eof = c->eof || (p.revents & POLLRDHUP);
  if (!eof && (p.revents & POLLIN)) {
    char ch;
    eof = recv(c->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }
  if (!eof) return false;
  if (!http11) return true;
  if (!c->probed) {
    c->probed = true;
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (send(c->fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) return true;
  }
  return false;
}

void request_close_after() {
  if (t_conn) t_conn->close_after = true;
}

bool request_timed_out() {
  return t_conn && t_conn->timed_out;
}

}  // namespace vkcls::server
