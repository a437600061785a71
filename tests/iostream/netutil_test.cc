// netutil: bind_sockets, bind_unix_socket, add_accept_handler and
// is_valid_ip over real sockets on 127.0.0.1 and in /tmp.
#include "tornado/netutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "tornado/gen.h"
#include "tornado/ioloop.h"
#include "tornado/trace.h"

#include "iostream/test_util.h"

namespace tornado::iostream_test {
namespace {

class AddAcceptHandlerTest : public LoopTest {};

/// Resolves once `v` holds `n` items.
Future<void> wait_for_count_size(const std::vector<int>* v, std::size_t n) {
    while (v->size() < n) {
        co_await gen::moment;
    }
}

int int_option(int fd, int level, int name) {
    int value = -1;
    socklen_t len = sizeof value;
    if (::getsockopt(fd, level, name, &value, &len) < 0) {
        return -1;
    }
    return value;
}

/// A blocking client connected to 127.0.0.1:port (the handshake completes
/// against the listener's backlog; nothing needs to accept yet).
int connect_blocking(int port) {
    int fd = tcp_socket();
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        int err = errno;
        ::close(fd);
        throw std::system_error(err, std::generic_category(), "connect");
    }
    return fd;
}

int local_port(int fd) {
    return netutil::bound_port(fd);
}

/// Connections waiting in a listening socket's accept queue, from TCP_INFO
/// (for a listener, tcpi_unacked is the accept backlog); -1 if unknown.
int accept_queue_length(int listener) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(listener, IPPROTO_TCP, TCP_INFO, &info, &len) < 0) {
        return -1;
    }
    return static_cast<int>(info.tcpi_unacked);
}

// No Tornado test of its own: bind_sockets as TCPServer.listen uses it.
TEST(BindSocketsTest, ReturnsListeningNonBlockingSocketWithPort) {
    std::vector<int> socks = netutil::bind_sockets(0, "127.0.0.1");
    ASSERT_EQ(socks.size(), 1U);
    int fd = socks[0];
    EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_EQ(int_option(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    EXPECT_EQ(int_option(fd, SOL_SOCKET, SO_REUSEADDR), 1);
    EXPECT_EQ(int_option(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);

    netutil::Address local;
    local.length = sizeof local.storage;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&local.storage), &local.length), 0);
    EXPECT_EQ(local.family(), AF_INET);
    EXPECT_EQ(local.host(), "127.0.0.1");
    int port = netutil::bound_port(fd);
    EXPECT_GT(port, 0);
    EXPECT_EQ(local.port(), port);

    // It really listens: a client's handshake completes against it.
    int client = connect_blocking(port);
    ::close(client);
    ::close(fd);
}

TEST(BindSocketsTest, ThrowsSystemErrorWhenPortIsTaken) {
    std::vector<int> first = netutil::bind_sockets(0, "127.0.0.1");
    ASSERT_EQ(first.size(), 1U);
    int port = netutil::bound_port(first[0]);
    try {
        std::vector<int> second = netutil::bind_sockets(port, "127.0.0.1");
        for (int s : second) {
            ::close(s);
        }
        ADD_FAILURE() << "a second listener bound port " << port;
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EADDRINUSE) << e.what();
    }
    ::close(first[0]);
}

// What bind_sockets(0, host) promises: one socket per family, all on the
// same port, IPv6 ones kept off IPv4; `check` sees each socket's address.
// Closes the sockets.
template <class Check>
void expect_one_port_per_family(const std::vector<int>& socks, Check check) {
    ASSERT_FALSE(socks.empty());
    int port = netutil::bound_port(socks[0]);
    EXPECT_GT(port, 0);
    std::set<int> families;
    for (int s : socks) {
        EXPECT_EQ(netutil::bound_port(s), port);
        netutil::Address a;
        a.length = sizeof a.storage;
        ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&a.storage), &a.length), 0);
        families.insert(a.family());
        if (a.family() == AF_INET6) {
            EXPECT_EQ(int_option(s, IPPROTO_IPV6, IPV6_V6ONLY), 1);
        }
        check(a);
    }
    EXPECT_EQ(families.size(), socks.size()) << "one socket per family";
    for (int s : socks) {
        ::close(s);
    }
}

// Tornado: tornado/test/netutil_test.py:193 TestPortAllocation.test_same_port_allocation
TEST(BindSocketsTest, PortZeroGivesEveryFamilyTheSamePort) {
    expect_one_port_per_family(netutil::bind_sockets(0, ""), [](const netutil::Address&) {});
}

// Tornado: tornado/test/netutil_test.py:206 TestPortAllocation.test_reuse_port
TEST(BindSocketsTest, ReusePortAllowsASecondListenerOnThePort) {
    std::vector<int> first =
        netutil::bind_sockets(0, "127.0.0.1", AF_UNSPEC, netutil::detail::DEFAULT_BACKLOG, true);
    ASSERT_EQ(first.size(), 1U);
    int port = netutil::bound_port(first[0]);
    EXPECT_EQ(int_option(first[0], SOL_SOCKET, SO_REUSEPORT), 1);
    std::vector<int> second;
    EXPECT_NO_THROW(second = netutil::bind_sockets(port, "127.0.0.1", AF_UNSPEC,
                                                   netutil::detail::DEFAULT_BACKLOG, true));
    for (int s : second) {
        EXPECT_EQ(netutil::bound_port(s), port);
        ::close(s);
    }
    ::close(first[0]);
}

// Tornado: tornado/netutil.py:250 add_accept_handler.accept_handler ("accept as many as there are
// in one event", up to the backlog)
TEST_F(AddAcceptHandlerTest, AcceptsSeveralPendingConnectionsInOneEvent) {
    std::vector<int> socks = netutil::bind_sockets(0, "127.0.0.1");
    ASSERT_EQ(socks.size(), 1U);
    int listener = socks[0];
    int port = netutil::bound_port(listener);

    std::vector<int> accepted;
    std::vector<netutil::Address> addresses;
    int accepted_count = 0;
    netutil::add_accept_handler(
        listener,
        [&](int connection, const netutil::Address& address) {
            accepted.push_back(connection);
            addresses.push_back(address);
            ++accepted_count;
        },
        loop_.get());
    std::vector<int> clients;
    // Unregisters the handler (it refers to locals) and closes every fd,
    // whatever way the test ends.
    struct Cleanup {
        IOLoop* loop;
        int listener;
        std::vector<int>* fds[2];
        ~Cleanup() {
            loop->remove_handler(listener);
            ::close(listener);
            for (std::vector<int>* v : fds) {
                for (int fd : *v) {
                    ::close(fd);
                }
            }
        }
    } cleanup{loop_.get(), listener, {&accepted, &clients}};

    // Three clients before the loop runs at all.
    std::set<int> client_ports;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(connect_blocking(port));
        client_ports.insert(local_port(clients.back()));
    }
    // Make sure all three are in the accept queue before the first poll
    // (bounded: at most ~2 s of 1 ms naps).
    int queued = accept_queue_length(listener);
    for (int i = 0; i < 2000 && queued >= 0 && queued < 3; ++i) {
        ::usleep(1000);
        queued = accept_queue_length(listener);
    }

    std::vector<trace::Event> events;
    {
        TraceCapture capture;
        run([&] { return wait_for_count(&accepted_count, 3); }, 10);
        settle(2);
        events = capture.events();
    }

    EXPECT_EQ(accepted_count, 3);
    std::set<int> peer_ports;
    for (const netutil::Address& a : addresses) {
        EXPECT_EQ(a.family(), AF_INET);
        EXPECT_EQ(a.host(), "127.0.0.1");
        peer_ports.insert(a.port());
    }
    EXPECT_EQ(peer_ports, client_ports);
    for (int fd : accepted) {
        EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
        EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    }

    int accept_events =
        static_cast<int>(std::count_if(events.begin(), events.end(), [](const trace::Event& e) {
            return e.ph == trace::Phase::Begin && e.step == "netutil.accept_handler";
        }));
    if (queued == 3) {
        EXPECT_EQ(accept_events, 1) << "the three queued connections took several events";
    } else {
        EXPECT_GE(accept_events, 1);
    }
}

/// Uses up every free descriptor of this process while alive: lowers the
/// soft RLIMIT_NOFILE to a few above the lowest free fd and fills the slots
/// below it with dups. release() (or the destructor) closes them and puts
/// the limit back.
class DescriptorExhaustion {
  public:
    DescriptorExhaustion() {
        EXPECT_EQ(::getrlimit(RLIMIT_NOFILE, &saved_), 0);
        int probe = ::dup(0);
        EXPECT_GE(probe, 0);
        ::close(probe);
        rlimit low = saved_;
        low.rlim_cur = static_cast<rlim_t>(probe + 8);
        EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
        // At most 8 free slots lie below the new limit.
        for (int i = 0; i < 16; ++i) {
            int fd = ::fcntl(0, F_DUPFD_CLOEXEC, 0);
            if (fd < 0) {
                EXPECT_EQ(errno, EMFILE);
                break;
            }
            spares_.push_back(fd);
        }
        int fd = ::dup(0);
        exhausted_ = fd < 0 && errno == EMFILE;
        if (fd >= 0) {
            ::close(fd);
        }
    }
    ~DescriptorExhaustion() { release(); }
    DescriptorExhaustion(const DescriptorExhaustion&) = delete;
    DescriptorExhaustion& operator=(const DescriptorExhaustion&) = delete;

    bool exhausted() const { return exhausted_; }
    void release() {
        for (int fd : spares_) {
            ::close(fd);
        }
        spares_.clear();
        ::setrlimit(RLIMIT_NOFILE, &saved_);
    }

  private:
    rlimit saved_{};
    std::vector<int> spares_;
    bool exhausted_ = false;
};

int count_begins(const std::vector<trace::Event>& events, std::string_view step) {
    return static_cast<int>(std::count_if(events.begin(), events.end(), [&](const trace::Event& e) {
        return e.ph == trace::Phase::Begin && e.step == step;
    }));
}

// C++ only (Tornado 6.2 logs and retries at every READ, a busy loop): out of
// descriptors, accept pauses with one log line per pause, and accepts the
// waiting connections once descriptors are free again.
TEST_F(AddAcceptHandlerTest, OutOfDescriptorsPausesAcceptInsteadOfSpinning) {
    std::vector<int> socks = netutil::bind_sockets(0, "127.0.0.1");
    ASSERT_EQ(socks.size(), 1U);
    int listener = socks[0];
    int port = netutil::bound_port(listener);
    std::vector<int> accepted;
    std::vector<int> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(connect_blocking(port));
    }
    std::function<void()> remove = netutil::add_accept_handler(
        listener, [&](int connection, const netutil::Address&) { accepted.push_back(connection); },
        loop_.get());
    struct Cleanup {
        std::function<void()>* remove;
        int listener;
        std::vector<int>* fds[2];
        ~Cleanup() {
            (*remove)();
            ::close(listener);
            for (std::vector<int>* v : fds) {
                for (int fd : *v) {
                    ::close(fd);
                }
            }
        }
    } cleanup{&remove, listener, {&accepted, &clients}};

    LogCapture logs;
    std::vector<trace::Event> events;
    {
        DescriptorExhaustion exhaustion;
        ASSERT_TRUE(exhaustion.exhausted());
        TraceCapture capture;
        // 0.35 s of loop time: pauses of 0.1, 0.2 (then 0.4) s allow at most
        // three attempts; a spinning handler makes thousands.
        run([] { return gen::sleep(0.35); }, 10);
        events = capture.events();
    }
    EXPECT_TRUE(accepted.empty());
    int attempts = count_begins(events, "netutil.accept_handler");
    int pauses = logs.count("tornado.general", log::Level::Error, "not accepting for");
    EXPECT_GE(attempts, 1);
    EXPECT_LE(attempts, 3) << logs.dump();
    EXPECT_EQ(pauses, attempts) << logs.dump();
    EXPECT_EQ(logs.count("tornado.general", log::Level::Error, "Too many open files"), pauses);
    EXPECT_EQ(logs.records().size(), static_cast<std::size_t>(pauses)) << logs.dump();

    // Descriptors are free again: the three queued clients are accepted
    // after the pause.
    run([&] { return wait_for_count_size(&accepted, 3); }, 10);
    EXPECT_EQ(accepted.size(), 3U);
}

// The function add_accept_handler returns also cancels a pending pause: the
// socket is not watched again afterwards (and can be closed safely).
TEST_F(AddAcceptHandlerTest, RemovingDuringAPauseCancelsIt) {
    std::vector<int> socks = netutil::bind_sockets(0, "127.0.0.1");
    ASSERT_EQ(socks.size(), 1U);
    int listener = socks[0];
    int port = netutil::bound_port(listener);
    int client = connect_blocking(port);
    int accepted = 0;
    std::function<void()> remove = netutil::add_accept_handler(
        listener,
        [&](int connection, const netutil::Address&) {
            ++accepted;
            ::close(connection);
        },
        loop_.get());
    LogCapture logs;
    {
        DescriptorExhaustion exhaustion;
        ASSERT_TRUE(exhaustion.exhausted());
        run([&]() -> Future<void> {
            while (logs.count("tornado.general", log::Level::Error, "not accepting") == 0) {
                co_await gen::moment;
            }
        });
    }
    remove();
    remove();  // a second call does nothing
    ::close(listener);
    // Past the first pause (0.1 s): had it not been cancelled, it would
    // watch the closed fd again, and the loop would log the failure.
    std::vector<trace::Event> events;
    {
        TraceCapture capture;
        run([] { return gen::sleep(0.3); }, 10);
        events = capture.events();
    }
    EXPECT_EQ(accepted, 0);
    EXPECT_EQ(count_begins(events, "netutil.accept_handler"), 0);
    EXPECT_EQ(
        std::count_if(events.begin(), events.end(),
                      [](const trace::Event& e) { return e.step == "PollIOLoop.add_handler"; }),
        0);
    EXPECT_EQ(logs.records().size(), 1U) << logs.dump();
    ::close(client);
}

// Tornado: tornado/test/netutil_test.py:177 IsValidIPTest.test_is_valid_ip
TEST(IsValidIpTest, AcceptsNumericAddressesOnly) {
    EXPECT_TRUE(netutil::is_valid_ip("127.0.0.1"));
    EXPECT_TRUE(netutil::is_valid_ip("4.4.4.4"));
    EXPECT_TRUE(netutil::is_valid_ip("::1"));
    EXPECT_TRUE(netutil::is_valid_ip("2001:db8::1"));
    EXPECT_TRUE(netutil::is_valid_ip("2620:0:1cfe:face:b00c::3"));
    EXPECT_FALSE(netutil::is_valid_ip(""));
    EXPECT_FALSE(netutil::is_valid_ip("www.example.com"));
    EXPECT_FALSE(netutil::is_valid_ip("localhost"));
    EXPECT_FALSE(netutil::is_valid_ip("4.4.4.4<"));
    EXPECT_FALSE(netutil::is_valid_ip("4.4.4.4<script>"));
    EXPECT_FALSE(netutil::is_valid_ip(" 127.0.0.1"));
    EXPECT_FALSE(netutil::is_valid_ip(" "));
    EXPECT_FALSE(netutil::is_valid_ip("\n"));
    EXPECT_FALSE(netutil::is_valid_ip(std::string("\0", 1)));
    // getaddrinfo would stop at the NUL and accept the address before it.
    EXPECT_FALSE(netutil::is_valid_ip(std::string("127.0.0.1\0evil", 14)));
    // The forms only getaddrinfo knows (past the inet_pton fast path), as
    // Tornado 6.2 answers them.
    EXPECT_TRUE(netutil::is_valid_ip("127.1"));
    EXPECT_TRUE(netutil::is_valid_ip("0x7f.0.0.1"));
    EXPECT_TRUE(netutil::is_valid_ip("fe80::1%lo"));
    EXPECT_TRUE(netutil::is_valid_ip("::ffff:1.2.3.4"));
    EXPECT_FALSE(netutil::is_valid_ip("1.2.3.4 "));
}

// Tornado 6.2: bind_sockets(0, "localhost") in TestPortAllocation; where
// localhost resolves to both ::1 and 127.0.0.1 both get one port (and ::1
// is skipped where IPv6 is off).
TEST(BindSocketsTest, LocalhostGetsOnePortForEveryFamily) {
    expect_one_port_per_family(
        netutil::bind_sockets(0, "localhost"), [](const netutil::Address& a) {
            EXPECT_TRUE(a.host() == "127.0.0.1" || a.host() == "::1") << a.host();
        });
}

// ---- bind_unix_socket (tornado issue 8) ----

// A fresh directory for socket files, removed with what is left in it.
class UnixSocketTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char templ[] = "/tmp/tornado-unix-XXXXXX";
        ASSERT_NE(::mkdtemp(templ), nullptr);
        dir_ = templ;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string path(const std::string& name) const { return dir_ + "/" + name; }

    std::string dir_;
};

int connect_unix(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        int err = errno;
        ::close(fd);
        throw std::system_error(err, std::generic_category(), "connect " + path);
    }
    return fd;
}

// Tornado: tornado/test/httpserver_test.py:584 UnixSocketTest (netutil_test has none; it uses
// bind_unix_socket)
TEST_F(UnixSocketTest, ListensWithTheModeAndAnUnnamedPeer) {
    std::string p = path("s");
    int sock = netutil::bind_unix_socket(p, 0640);
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0640U);
    EXPECT_NE(::fcntl(sock, F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(::fcntl(sock, F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_EQ(int_option(sock, SOL_SOCKET, SO_REUSEADDR), 1);
    netutil::Address local;
    local.length = sizeof local.storage;
    ASSERT_EQ(::getsockname(sock, reinterpret_cast<sockaddr*>(&local.storage), &local.length), 0);
    EXPECT_EQ(local.family(), AF_UNIX);
    EXPECT_EQ(local.host(), p);
    EXPECT_EQ(local.port(), 0);

    int client = connect_unix(p);
    netutil::Address peer;
    peer.length = sizeof peer.storage;
    int conn =
        ::accept4(sock, reinterpret_cast<sockaddr*>(&peer.storage), &peer.length, SOCK_CLOEXEC);
    ASSERT_GE(conn, 0);
    EXPECT_EQ(peer.family(), AF_UNIX);
    EXPECT_EQ(peer.host(), "");  // the client did not bind: Python's b''
    ASSERT_EQ(::write(client, "x", 1), 1);
    char c = 0;
    EXPECT_EQ(::read(conn, &c, 1), 1);
    EXPECT_EQ(c, 'x');
    for (int fd : {conn, client, sock}) {
        ::close(fd);
    }
}

TEST_F(UnixSocketTest, DefaultModeIsOwnerOnly) {
    std::string p = path("s");
    int sock = netutil::bind_unix_socket(p);
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
    ::close(sock);
}

TEST_F(UnixSocketTest, StaleSocketFileIsReplaced) {
    std::string p = path("s");
    int first = netutil::bind_unix_socket(p);
    ::close(first);  // the file stays, as a server that died leaves it
    ASSERT_TRUE(std::filesystem::is_socket(p));
    int second = -1;
    ASSERT_NO_THROW(second = netutil::bind_unix_socket(p));
    int client = connect_unix(p);
    int conn = ::accept4(second, nullptr, nullptr, SOCK_CLOEXEC);
    EXPECT_GE(conn, 0) << "the new socket answers at the path";
    for (int fd : {conn, client, second}) {
        ::close(fd);
    }
}

TEST_F(UnixSocketTest, OtherFileIsRefusedAndKept) {
    std::string p = path("data");
    {
        std::FILE* f = std::fopen(p.c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs("keep me", f);
        std::fclose(f);
    }
    EXPECT_THROW(netutil::bind_unix_socket(p), std::invalid_argument);
    EXPECT_TRUE(std::filesystem::is_regular_file(p));
    EXPECT_EQ(std::filesystem::file_size(p), 7U);
    std::filesystem::create_directory(path("dir"));
    EXPECT_THROW(netutil::bind_unix_socket(path("dir")), std::invalid_argument);
    EXPECT_TRUE(std::filesystem::is_directory(path("dir")));
}

TEST_F(UnixSocketTest, PathTooLongIsAnError) {
    EXPECT_THROW(netutil::bind_unix_socket(path(std::string(200, 'x'))), std::system_error);
}

// ---- end of bind_unix_socket ----

}  // namespace
}  // namespace tornado::iostream_test
