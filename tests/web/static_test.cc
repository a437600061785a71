// StaticFileHandler over real loopback connections: Tornado 6.2's
// StaticFileTest cases (validators, ranges, HEAD, 404, default_filename,
// static_url), hostile paths, and a file of several chunks streamed one
// chunk at a time. Files live in a temporary directory with known mtimes.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tornado/httputil.h"
#include "tornado/trace.h"
#include "tornado/web.h"

#include "httpserver/raw_client.h"

namespace tornado::web_test {
namespace {

using httpserver_test::BodyMode;
using httpserver_test::RawResponse;
using httpserver_test::ServerTest;

// Tornado's test/static/robots.txt: 26 bytes.
constexpr const char* kRobots = "User-agent: *\nDisallow: /\n";
// python3 -c "import hashlib;print(hashlib.sha512(b'User-agent: *\nDisallow: /\n').hexdigest())"
constexpr const char* kRobotsSha512 =
    "63a36e950e134b5217e33c763e88840c10a07d80e6057d92b9ac97508de7fb1fa6f0e9b7531e169657165ea764e"
    "8963399cb6d921ffe6078425aaafe54c04563";
constexpr std::int64_t kMtime = 1600000000;  // Sun, 13 Sep 2020 12:26:40 GMT
constexpr std::size_t kChunk = web::StaticFileHandler::CHUNK_SIZE;

// A directory made for one test, removed with everything in it.
class TempDir {
  public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "static_test.XXXXXX");
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

void write_file(const std::string& path, const std::string& content, std::int64_t mtime = kMtime) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << content;
    struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

// Bytes that differ at every offset, so that a misplaced range shows.
std::string patterned(std::size_t size) {
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    }
    return out;
}

std::string gunzip(const std::string& compressed) {
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        throw std::runtime_error("inflateInit2");
    }
    std::string in = compressed;
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    std::string out;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        char buf[16384];
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&z);
            throw std::runtime_error("inflate failed");
        }
        out.append(buf, sizeof buf - z.avail_out);
    }
    inflateEnd(&z);
    return out;
}

// Writes static_url(path) (include_host when ?host=1).
class StaticUrlHandler : public web::RequestHandler {
  public:
    using RequestHandler::RequestHandler;
    Future<void> get() override {
        write(static_url(get_argument("path"), !get_argument("host", "").empty()));
        return {};
    }
};

class StaticFileTest : public ServerTest {
  protected:
    void SetUp() override {
        ServerTest::SetUp();
        root_ = tmp_.path() + "/static";
        write_file(root_ + "/robots.txt", kRobots);
        write_file(root_ + "/sub/index.html", "<p>index</p>");
        write_file(root_ + "/sub/page.html", "<p>page</p>");
        write_file(root_ + "/empty/.keep", "");
        write_file(root_ + "/sample.xml", "<a/>");
        write_file(root_ + "/sample.xml.gz", "gz");
        write_file(root_ + "/sample.bz2", "bz");
        write_file(root_ + "/app.js", "1;");
        write_file(root_ + "/style.css", "a{}");
        write_file(root_ + "/data.json", "{}");
        write_file(root_ + "/unknown.qqqz", "?");
        write_file(root_ + "/.hidden", "h");
        write_file(tmp_.path() + "/outside.txt", "secret");
        write_file(tmp_.path() + "/static-other/x.txt", "sibling");
        std::filesystem::create_symlink(tmp_.path() + "/outside.txt", root_ + "/escape.txt");
        std::filesystem::create_symlink(tmp_.path(), root_ + "/escape-dir");
        std::filesystem::create_symlink(root_ + "/robots.txt", root_ + "/inside-link.txt");
    }

    void start_app(web::ApplicationSettings settings = {}) {
        settings.static_path = root_;
        settings.log_requests = false;
        using web::url;
        auto app = web::Application::create(
            {
                url<StaticUrlHandler>("/static_url"),
                url<web::StaticFileHandler>("/root_static/(.*)", std::string("/"),
                                            std::optional<std::string>()),
                url<web::StaticFileHandler>("//(.*)", root_,
                                            std::optional<std::string>("index.html")),
            },
            std::move(settings));
        start_server(app);
    }

    RawResponse get(const std::string& path, const std::string& extra_headers = "") {
        return fetch("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n");
    }
    RawResponse head(const std::string& path, const std::string& extra_headers = "") {
        return fetch("HEAD " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n",
                     BodyMode::None);
    }
    RawResponse get_range(const std::string& range) {
        return get("/static/robots.txt", "Range: " + range + "\r\n");
    }

    TempDir tmp_;
    std::string root_;
};

const std::string kRobotsEtag = std::string("\"") + kRobotsSha512 + "\"";

// Tornado: tornado/test/web_test.py:982 StaticFileTest.test_static_files
TEST_F(StaticFileTest, ServesRobotsTxtAtTheRootAndUnderThePrefix) {
    start_app();
    for (const char* path : {"/robots.txt", "/static/robots.txt"}) {
        RawResponse r = get(path);
        EXPECT_EQ(r.start_line, "HTTP/1.1 200 OK") << path;
        EXPECT_EQ(r.header("Content-Type"), "text/plain") << path;
        EXPECT_EQ(r.body, kRobots) << path;
    }
}

// Tornado: tornado/test/web_test.py:1089 StaticFileTest.test_static_etag
TEST_F(StaticFileTest, AnswersWithSha512EtagLastModifiedAndLength) {
    start_app();
    RawResponse r = get("/static/robots.txt");
    EXPECT_EQ(r.header("Etag"), kRobotsEtag);
    EXPECT_EQ(r.header("Last-Modified"), "Sun, 13 Sep 2020 12:26:40 GMT");
    EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
    EXPECT_EQ(r.header("Content-Length"), "26");
    EXPECT_FALSE(r.has_header("Expires"));
    EXPECT_FALSE(r.has_header("Cache-Control"));
}

// Tornado: tornado/test/web_test.py:990 StaticFileTest.test_static_compressed_files
TEST_F(StaticFileTest, ContentTypeFollowsTheExtensionAndEncoding) {
    start_app();
    const std::pair<const char*, const char*> cases[] = {
        {"/static/sample.xml.gz", "application/gzip"},
        {"/static/sample.bz2", "application/octet-stream"},
        {"/static/sample.xml", "application/xml"},
        {"/static/app.js", "text/javascript"},
        {"/static/style.css", "text/css"},
        {"/static/data.json", "application/json"},
        {"/static/sub/page.html", "text/html"},
        {"/static/unknown.qqqz", "application/octet-stream"},
        {"/static/.hidden", "application/octet-stream"},
    };
    for (const auto& [path, type] : cases) {
        RawResponse r = get(path);
        EXPECT_EQ(r.code(), 200) << path;
        EXPECT_EQ(r.header("Content-Type"), type) << path;
    }
}

// Tornado: tornado/test/web_test.py:1053 StaticFileTest.test_static_304_if_modified_since
TEST_F(StaticFileTest, IfModifiedSinceEqualToLastModifiedGives304) {
    start_app();
    RawResponse r =
        get("/static/robots.txt", "If-Modified-Since: Sun, 13 Sep 2020 12:26:40 GMT\r\n");
    EXPECT_EQ(r.start_line, "HTTP/1.1 304 Not Modified");
    EXPECT_FALSE(r.has_header("Content-Length"));
    EXPECT_FALSE(r.has_header("Content-Type"));
    // 6.2 keeps Last-Modified on a 304 (4.5.2 dropped it).
    EXPECT_EQ(r.header("Last-Modified"), "Sun, 13 Sep 2020 12:26:40 GMT");
    EXPECT_EQ(r.header("Etag"), kRobotsEtag);
    EXPECT_TRUE(r.body.empty());
}

// Tornado: tornado/test/web_test.py:1061 StaticFileTest.test_static_304_if_none_match
TEST_F(StaticFileTest, IfNoneMatchWithTheEtagGives304) {
    start_app();
    EXPECT_EQ(get("/static/robots.txt", "If-None-Match: " + kRobotsEtag + "\r\n").code(), 304);
    EXPECT_EQ(get("/static/robots.txt", "If-None-Match: W/" + kRobotsEtag + "\r\n").code(), 304);
    EXPECT_EQ(get("/static/robots.txt", "If-None-Match: *\r\n").code(), 304);
    EXPECT_EQ(get("/static/robots.txt", "If-None-Match: \"other\"\r\n").code(), 200);
}

// Tornado: tornado/test/web_test.py:1067 StaticFileTest.test_static_if_modified_since_pre_epoch
TEST_F(StaticFileTest, IfModifiedSinceBeforeTheEpochGives200) {
    start_app();
    EXPECT_EQ(
        get("/static/robots.txt", "If-Modified-Since: Fri, 01 Jan 1960 00:00:00 GMT\r\n").code(),
        200);
}

// Tornado: tornado/test/web_test.py:1075 StaticFileTest.test_static_if_modified_since_time_zone
TEST_F(StaticFileTest, IfModifiedSinceOneSecondEitherSideOfTheMtime) {
    start_app();
    EXPECT_EQ(get("/static/robots.txt",
                  "If-Modified-Since: " + httputil::format_timestamp(kMtime - 1) + "\r\n")
                  .code(),
              200);
    EXPECT_EQ(get("/static/robots.txt",
                  "If-Modified-Since: " + httputil::format_timestamp(kMtime + 1) + "\r\n")
                  .code(),
              304);
}

// Tornado 6.2: tornado/test/web_test.py StaticFileTest.test_static_304_etag_modified_bug
TEST_F(StaticFileTest, MismatchedIfNoneMatchWinsOverAFutureIfModifiedSince) {
    start_app();
    RawResponse r = get("/static/robots.txt",
                        "If-None-Match: \"1234\"\r\n"
                        "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n");
    EXPECT_EQ(r.code(), 200);
}

TEST_F(StaticFileTest, IfModifiedSinceInOtherFormsAndJunk) {
    start_app();
    // RFC 850 and asctime dates parse as Python's email.utils.parsedate does.
    EXPECT_EQ(
        get("/static/robots.txt", "If-Modified-Since: Sunday, 13-Sep-20 12:26:40 GMT\r\n").code(),
        304);
    EXPECT_EQ(get("/static/robots.txt", "If-Modified-Since: Sun Sep 13 12:26:40 2020\r\n").code(),
              304);
    EXPECT_EQ(get("/static/robots.txt", "If-Modified-Since: junk\r\n").code(), 200);
    EXPECT_EQ(get("/static/robots.txt", "If-Modified-Since: \r\n").code(), 200);
    // Parsed but no real date: Tornado 6.2's datetime() raises, a 500.
    EXPECT_EQ(
        get("/static/robots.txt", "If-Modified-Since: Sat, 32 Jan 2000 00:00:00 GMT\r\n").code(),
        500);
}

TEST(ParsedateTest, FollowsPythonEmailUtils) {
    auto fields = [](const char* s) {
        auto f = httputil::parsedate(s);
        return f ? fmt::format("{}-{}-{} {}:{}:{}", f->year, f->month, f->day, f->hour, f->minute,
                               f->second)
                 : std::string("None");
    };
    EXPECT_EQ(fields("Sun, 13 Sep 2020 12:26:40 GMT"), "2020-9-13 12:26:40");
    EXPECT_EQ(fields("13-Sep-20 12:26:40 GMT"), "2020-9-13 12:26:40");
    EXPECT_EQ(fields("Sep 13 12:26:40 2020"), "2020-9-13 12:26:40");
    EXPECT_EQ(fields("13 Sep 69 12:26 +0100"), "1969-9-13 12:26:0");
    EXPECT_EQ(fields("13 September 2020 12.26.40"), "2020-9-13 12:26:40");
    EXPECT_EQ(fields("Sat, 32 Jan 2000 00:00:00 GMT"), "2000-1-32 0:0:0");
    EXPECT_EQ(fields("junk"), "None");
    EXPECT_EQ(fields("13 Foo 2020 12:26:40"), "None");
    EXPECT_EQ(fields("13 Sep 2020 12"), "None");
    EXPECT_EQ(fields(""), "None");
    EXPECT_FALSE(httputil::date_fields_to_timestamp({2000, 2, 30, 0, 0, 0}));
    EXPECT_EQ(httputil::date_fields_to_timestamp({1960, 1, 1, 0, 0, 0}), -315619200);
}

struct RangeCase {
    const char* range;
    int code;
    const char* content_range;  // nullptr: no Content-Range
    std::string body;
};

// Tornado: tornado/test/web_test.py:1094 StaticFileTest.test_static_with_range (and the rest)
TEST_F(StaticFileTest, RangeRequestsAnswerAs62Does) {
    start_app();
    const std::string all = kRobots;
    const RangeCase cases[] = {
        {"bytes=0-9", 206, "bytes 0-9/26", all.substr(0, 10)},
        {"bytes=0-", 200, nullptr, all},
        {"bytes=0-10000000", 200, nullptr, all},
        {"bytes=1-10000000", 206, "bytes 1-25/26", all.substr(1)},
        {"bytes=22-", 206, "bytes 22-25/26", all.substr(22)},
        {"bytes=-4", 206, "bytes 22-25/26", all.substr(22)},
        {"bytes=0-0", 206, "bytes 0-0/26", all.substr(0, 1)},
        {"bytes=25-25", 206, "bytes 25-25/26", all.substr(25)},
        {"bytes=0-25", 200, nullptr, all},
        {"asdf", 200, nullptr, all},
        {"bytes=0-1,3-4", 200, nullptr, all},
        {"items=0-1", 200, nullptr, all},
        {"bytes=", 200, nullptr, all},
        {"bytes=x-3", 200, nullptr, all},
        {"bytes=-1000000", 200, nullptr, all},
        {"bytes=-99999999999999999999999", 200, nullptr, all},
        {"bytes=0-99999999999999999999999", 200, nullptr, all},
        {"bytes=-0", 416, "bytes */26", ""},
        {"bytes=26", 416, "bytes */26", ""},
        {"bytes=26-", 416, "bytes */26", ""},
        {"bytes=5-2", 416, "bytes */26", ""},
        {"bytes=99999999999999999999999-", 416, "bytes */26", ""},
    };
    for (const RangeCase& c : cases) {
        RawResponse r = get_range(c.range);
        EXPECT_EQ(r.code(), c.code) << c.range;
        EXPECT_EQ(r.header("Content-Range"),
                  c.content_range ? std::optional<std::string>(c.content_range) : std::nullopt)
            << c.range;
        EXPECT_EQ(r.body, c.body) << c.range;
        EXPECT_EQ(r.header("Content-Length"), std::to_string(c.body.size())) << c.range;
        if (c.code == 416) {
            EXPECT_EQ(r.header("Content-Type"), "text/plain") << c.range;
            EXPECT_EQ(r.header("Etag"), kRobotsEtag) << c.range;
        }
    }
}

// Tornado: tornado/test/web_test.py:1172 StaticFileTest.test_static_head
TEST_F(StaticFileTest, HeadHasTheGetHeadersAndNoBody) {
    start_app();
    auto stream = connect();
    RawResponse r =
        roundtrip(stream, "HEAD /static/robots.txt HTTP/1.1\r\nHost: x\r\n\r\n", BodyMode::None);
    EXPECT_EQ(r.code(), 200);
    EXPECT_EQ(r.header("Content-Length"), "26");
    EXPECT_EQ(r.header("Etag"), kRobotsEtag);
    // The connection is still in step: a GET right after reads its own answer.
    RawResponse next = roundtrip(stream, "GET /static/robots.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(next.body, kRobots);
}

// Tornado: tornado/test/web_test.py:1181 StaticFileTest.test_static_head_range
TEST_F(StaticFileTest, HeadWithRangeGives206AndItsLength) {
    start_app();
    RawResponse r = head("/static/robots.txt", "Range: bytes=1-4\r\n");
    EXPECT_EQ(r.code(), 206);
    EXPECT_EQ(r.header("Content-Length"), "4");
    EXPECT_EQ(r.header("Content-Range"), "bytes 1-4/26");
}

// Tornado: tornado/test/web_test.py:1190 StaticFileTest.test_static_range_if_none_match
TEST_F(StaticFileTest, RangeWithAMatchingIfNoneMatchGives304) {
    start_app();
    RawResponse r =
        get("/static/robots.txt", "Range: bytes=1-4\r\nIf-None-Match: " + kRobotsEtag + "\r\n");
    EXPECT_EQ(r.code(), 304);
    EXPECT_FALSE(r.has_header("Content-Length"));
    EXPECT_FALSE(r.has_header("Content-Range"));
}

// Tornado: tornado/test/web_test.py:1200 StaticFileTest.test_static_404
TEST_F(StaticFileTest, MissingFileIs404ForGetAndHead) {
    start_app();
    EXPECT_EQ(get("/static/blarg").code(), 404);
    EXPECT_EQ(head("/static/blarg").code(), 404);
}

TEST_F(StaticFileTest, OtherMethodsAre405) {
    start_app();
    RawResponse r =
        fetch("POST /static/robots.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(r.code(), 405);
}

// Tornado: tornado/test/web_test.py:1204 StaticFileTest.test_path_traversal_protection
TEST_F(StaticFileTest, HostilePathsAreRefused) {
    start_app();
    const std::pair<std::string, int> cases[] = {
        {"/static/../outside.txt", 403},
        {"/static/%2e%2e/outside.txt", 403},
        {"/static/sub/../../outside.txt", 403},
        {"/static/..%2foutside.txt", 403},
        {"/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 403},
        {"/static//etc/passwd", 403},            // an absolute path replaces the root
        {"/static/%2fetc%2fpasswd", 403},        // the same, with the slash encoded
        {"/static/../static-other/x.txt", 403},  // a sibling sharing the prefix
        {"/static/escape.txt", 403},             // a symlink out of the root
        {"/static/escape-dir/outside.txt", 403},
        {"/static/robots.txt%00.html", 404},  // NUL: no such file, not robots.txt
        {"/static/%00", 404},
        {"/static/%ff", 400},  // not UTF-8
        {"/static/sub", 403},  // a directory, no default_filename
        {"/static/sub/", 403},
        {"/static/", 403},  // the root itself
        {"/static", 404},   // not under the prefix: no route
    };
    for (const auto& [path, code] : cases) {
        RawResponse r = get(path);
        EXPECT_EQ(r.code(), code) << path;
        EXPECT_EQ(r.body.find("secret"), std::string::npos) << path;
        EXPECT_EQ(r.body.find("sibling"), std::string::npos) << path;
    }
    // A symlink that stays inside the root is served.
    EXPECT_EQ(get("/static/inside-link.txt").body, kRobots);
}

TEST_F(StaticFileTest, VeryLongPathsAre404) {
    start_app();
    // A component longer than NAME_MAX, and a path longer than PATH_MAX.
    EXPECT_EQ(get("/static/" + std::string(300, 'a')).code(), 404);
    std::string deep;
    for (int i = 0; i < 600; ++i) {
        deep += "abcdefghijkl/";
    }
    EXPECT_EQ(get("/static/" + deep + "x.txt").code(), 404);
}

// Tornado: tornado/test/web_test.py:1218 StaticFileTest.test_root_static_path
TEST_F(StaticFileTest, RootPathSlashServesAbsolutePaths) {
    start_app();
    RawResponse r = get("/root_static" + root_ + "/robots.txt");
    EXPECT_EQ(r.code(), 200);
    EXPECT_EQ(r.body, kRobots);
}

// Settings with static_handler_args default_filename "index.html". Made in
// a function of its own: filling the optional in the test body makes g++ 12
// at -O3 warn falsely (-Wmaybe-uninitialized).
web::ApplicationSettings index_html_settings() {
    web::ApplicationSettings settings;
    settings.static_handler_args = {.default_filename = std::string("index.html")};
    return settings;
}

// Tornado: tornado/test/web_test.py:1238 StaticDefaultFilenameTest.test_static_default_filename
TEST_F(StaticFileTest, DefaultFilenameServesTheDirectoryIndex) {
    start_app(index_html_settings());
    RawResponse r = get("/static/sub/");
    EXPECT_EQ(r.code(), 200);
    EXPECT_EQ(r.body, "<p>index</p>");
    // A directory without the file is a 404.
    EXPECT_EQ(get("/static/empty/").code(), 404);
}

// Tornado: tornado/test/web_test.py:1243 StaticDefaultFilenameTest.test_static_default_redirect
TEST_F(StaticFileTest, DefaultFilenameRedirectsToTheTrailingSlash) {
    start_app(index_html_settings());
    RawResponse r = get("/static/sub?x=1");
    EXPECT_EQ(r.start_line, "HTTP/1.1 301 Moved Permanently");
    EXPECT_EQ(r.header("Location"), "/static/sub/");
}

// Debian's fix: a redirect to "//sub/" would name another host.
TEST_F(StaticFileTest, DefaultFilenameRedirectRefusesTwoInitialSlashes) {
    start_app();
    EXPECT_EQ(get("//sub").code(), 403);
    EXPECT_EQ(get("//sub/").body, "<p>index</p>");
}

// Tornado: tornado/test/web_test.py:1002 StaticFileTest.test_static_url
TEST_F(StaticFileTest, StaticUrlCarriesTheVersionHash) {
    start_app();
    EXPECT_EQ(get("/static_url?path=robots.txt").body,
              std::string("/static/robots.txt?v=") + kRobotsSha512);
    // Tornado: tornado/test/web_test.py:1007 StaticFileTest.test_absolute_static_url
    EXPECT_EQ(get("/static_url?path=robots.txt&host=1").body,
              std::string("http://localhost/static/robots.txt?v=") + kRobotsSha512);
    // A file that cannot be read has no version.
    EXPECT_EQ(get("/static_url?path=nope.txt").body, "/static/nope.txt");
}

TEST_F(StaticFileTest, StaticUrlFollowsTheUrlPrefix) {
    web::ApplicationSettings settings;
    settings.static_url_prefix = "/assets.v1/";
    start_app(settings);
    EXPECT_EQ(get("/static_url?path=robots.txt").body,
              std::string("/assets.v1/robots.txt?v=") + kRobotsSha512);
    EXPECT_EQ(get("/assets.v1/robots.txt").body, kRobots);
    // The prefix is a literal: "." does not match any character.
    EXPECT_EQ(get("/assetsXv1/robots.txt").code(), 404);
}

TEST_F(StaticFileTest, VersionedUrlIsCachedForTenYears) {
    start_app();
    RawResponse r = get("/static/robots.txt?v=anything");
    EXPECT_EQ(r.header("Cache-Control"), "max-age=315360000");
    // Expires is ten years after the answer's Date (the conformance cases
    // cannot compare it with Tornado's: the servers answer at different
    // instants). A second may tick between the two headers being made.
    auto seconds = [&r](const char* name) -> std::int64_t {
        auto value = r.header(name);
        auto fields = value ? httputil::parsedate(*value) : std::nullopt;
        auto t = fields ? httputil::date_fields_to_timestamp(*fields) : std::nullopt;
        EXPECT_TRUE(t.has_value()) << name << ": " << value.value_or("(none)");
        return t.value_or(0);
    };
    std::int64_t ahead = seconds("Expires") - seconds("Date");
    EXPECT_GE(ahead, 315360000);
    EXPECT_LE(ahead, 315360001);
}

TEST_F(StaticFileTest, VersionsAreCachedUntilResetOrDebug) {
    start_app();
    write_file(root_ + "/changing.txt", "one");
    std::optional<std::string> first = get("/static/changing.txt").header("Etag");
    write_file(root_ + "/changing.txt", "two");
    EXPECT_EQ(get("/static/changing.txt").header("Etag"), first);
    web::StaticFileHandler::reset();
    EXPECT_NE(get("/static/changing.txt").header("Etag"), first);
}

TEST_F(StaticFileTest, DebugTurnsTheHashCacheOff) {
    web::ApplicationSettings settings;
    settings.debug = true;
    start_app(settings);
    write_file(root_ + "/changing.txt", "one");
    std::optional<std::string> first = get("/static/changing.txt").header("Etag");
    write_file(root_ + "/changing.txt", "two");
    EXPECT_NE(get("/static/changing.txt").header("Etag"), first);
}

// A subclass given as static_handler_class serves the static routes.
class ShoutingStaticHandler : public web::StaticFileHandler {
  public:
    using StaticFileHandler::StaticFileHandler;
    void set_extra_headers(const std::string& path) override { set_header("X-Static", path); }
    static std::string make_static_url(const web::ApplicationSettings& settings,
                                       const std::string& path, bool /*include_version*/) {
        return settings.static_url_prefix + path + "?custom";
    }
};

TEST_F(StaticFileTest, StaticHandlerClassReplacesTheHandlerAndItsUrls) {
    web::ApplicationSettings settings;
    settings.static_handler_class = web::static_handler_class<ShoutingStaticHandler>();
    start_app(settings);
    EXPECT_EQ(get("/static/sub/page.html").header("X-Static"), "sub/page.html");
    EXPECT_EQ(get("/static_url?path=robots.txt").body, "/static/robots.txt?custom");
}

// Collects the sizes a trace step reports in its "bytes" argument.
class TraceRecorder : public trace::Sink {
  public:
    void on_event(const trace::Event& e) override { events.push_back(e); }
    std::vector<std::int64_t> bytes_of(const std::string& step, trace::Phase ph) const {
        std::vector<std::int64_t> out;
        for (const trace::Event& e : events) {
            if (e.step == step && e.ph == ph) {
                if (const trace::ArgValue* v = e.arg("bytes")) {
                    out.push_back(std::get<std::int64_t>(*v));
                }
            }
        }
        return out;
    }
    std::vector<trace::Event> events;
};

TEST_F(StaticFileTest, LargeFileIsReadAndFlushedOneChunkAtATime) {
    const std::string content = patterned(5 * kChunk + 123);
    write_file(root_ + "/big.bin", content);
    start_app();
    auto recorder = std::make_shared<TraceRecorder>();
    trace::reset();
    trace::add_sink(recorder);
    trace::enable(true);
    RawResponse r = get("/static/big.bin");
    trace::enable(false);
    trace::remove_sink(recorder);
    EXPECT_EQ(r.header("Content-Length"), std::to_string(content.size()));
    EXPECT_TRUE(r.body == content);
    // Six reads of at most a chunk, each flushed before the next read: the
    // handler's buffer never holds more than one chunk.
    std::vector<std::int64_t> reads =
        recorder->bytes_of("StaticFileHandler.get_content", trace::Phase::Instant);
    EXPECT_EQ(reads, (std::vector<std::int64_t>{65536, 65536, 65536, 65536, 65536, 123}));
    std::vector<std::int64_t> flushes =
        recorder->bytes_of("RequestHandler.flush", trace::Phase::Begin);
    EXPECT_EQ(flushes, (std::vector<std::int64_t>{65536, 65536, 65536, 65536, 65536, 123, 0}));
}

TEST_F(StaticFileTest, RangeOfALargeFileReadsOnlyThatRange) {
    const std::string content = patterned(3 * kChunk);
    write_file(root_ + "/big.bin", content);
    start_app();
    RawResponse r = get("/static/big.bin", "Range: bytes=65530-131080\r\n");
    EXPECT_EQ(r.code(), 206);
    EXPECT_EQ(r.header("Content-Range"), "bytes 65530-131080/196608");
    EXPECT_TRUE(r.body == content.substr(65530, 131080 - 65530 + 1));
}

// Tornado: tornado/test/web_test.py:1582 GzipTestCase.test_gzip_static
TEST_F(StaticFileTest, GzipCompressesTheFlushedChunks) {
    const std::string content = patterned(2 * kChunk + 10);
    write_file(root_ + "/big.txt", content);
    web::ApplicationSettings settings;
    settings.compress_response = true;
    start_app(settings);
    RawResponse r = get("/static/big.txt", "Accept-Encoding: gzip\r\n");
    EXPECT_EQ(r.header("Content-Encoding"), "gzip");
    EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
    EXPECT_FALSE(r.has_header("Content-Length"));
    EXPECT_TRUE(gunzip(r.body) == content);
    // Even a tiny text file: the first flush is not the finish.
    RawResponse small = get("/static/robots.txt", "Accept-Encoding: gzip\r\n");
    EXPECT_EQ(small.header("Content-Encoding"), "gzip");
    EXPECT_EQ(gunzip(small.body), kRobots);
    // A HEAD is not compressed.
    RawResponse h = head("/static/robots.txt", "Accept-Encoding: gzip\r\n");
    EXPECT_FALSE(h.has_header("Content-Encoding"));
    EXPECT_EQ(h.header("Content-Length"), "26");
}

TEST(RequestRangeTest, ParsesAsTornadoHttputil) {
    auto parsed = [](const char* s) {
        auto r = httputil::_parse_request_range(s);
        if (!r) {
            return std::string("None");
        }
        auto str = [](std::optional<std::int64_t> v) {
            return v ? std::to_string(*v) : std::string("None");
        };
        return "(" + str(r->start) + ", " + str(r->end) + ")";
    };
    EXPECT_EQ(parsed("bytes=1-2"), "(1, 3)");
    EXPECT_EQ(parsed("bytes=6-"), "(6, None)");
    EXPECT_EQ(parsed("bytes=-6"), "(-6, None)");
    EXPECT_EQ(parsed("bytes=-0"), "(None, 0)");
    EXPECT_EQ(parsed("bytes="), "(None, None)");
    EXPECT_EQ(parsed("foo=42"), "None");
    EXPECT_EQ(parsed("bytes=1-2,6-10"), "None");
    EXPECT_EQ(parsed(" bytes = +1_0 - 2_0 "), "(10, 21)");
    EXPECT_EQ(parsed("bytes=1__0-"), "None");
    EXPECT_EQ(httputil::_get_content_range(std::nullopt, 1, 4), "bytes 0-0/4");
    EXPECT_EQ(httputil::_get_content_range(1, 3, 4), "bytes 1-2/4");
    EXPECT_EQ(httputil::_get_content_range(std::nullopt, std::nullopt, 4), "bytes 0-3/4");
}

}  // namespace
}  // namespace tornado::web_test
