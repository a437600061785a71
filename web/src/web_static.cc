// tornado.web's StaticFileHandler: files under a directory, with validators,
// ranges and versioned URLs. The rest of tornado.web is in web.cc.
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <system_error>
#include <unordered_map>

#include "tornado/iostream.h"
#include "tornado/log.h"
#include "tornado/web.h"

namespace tornado::web {

namespace {

constexpr trace::Module kTraceModule{"web", "tornado/web.py"};

// --- paths, as Python's posixpath does them --------------------------------

// posixpath.join(a, b): b replaces a when it is absolute.
std::string path_join(const std::string& a, const std::string& b) {
    if (b.starts_with('/')) {
        return b;
    }
    if (a.empty() || a.ends_with('/')) {
        return a + b;
    }
    return a + "/" + b;
}

// posixpath.normpath: "." and empty parts dropped, ".." applied; exactly two
// leading slashes are kept (POSIX leaves their meaning to the system).
std::string normpath(const std::string& path) {
    if (path.empty()) {
        return ".";
    }
    std::size_t initial_slashes = 0;
    if (path.starts_with('/')) {
        initial_slashes = path.starts_with("//") && !path.starts_with("///") ? 2 : 1;
    }
    std::vector<std::string_view> comps;
    std::string_view rest = path;
    while (!rest.empty()) {
        std::size_t slash = rest.find('/');
        std::string_view comp = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        if (comp.empty() || comp == ".") {
            continue;
        }
        if (comp != ".." || (initial_slashes == 0 && comps.empty()) ||
            (!comps.empty() && comps.back() == "..")) {
            comps.push_back(comp);
        } else if (!comps.empty()) {
            comps.pop_back();
        }
    }
    std::string out(initial_slashes, '/');
    for (std::size_t i = 0; i < comps.size(); ++i) {
        if (i > 0) {
            out += '/';
        }
        out += comps[i];
    }
    return out.empty() ? "." : out;
}

// posixpath.abspath: relative paths are taken from the working directory.
std::string abspath(const std::string& path) {
    if (path.starts_with('/')) {
        return normpath(path);
    }
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "getcwd");
    }
    return normpath(path_join(cwd, path));
}

// os.stat as os.path.exists / isdir / isfile use it: any failure (a NUL in
// the path, a name too long, a dangling symlink) means "not there".
std::optional<struct stat> stat_path(const std::string& path) {
    struct stat st {};
    if (path.find('\0') != std::string::npos || ::stat(path.c_str(), &st) != 0) {
        return std::nullopt;
    }
    return st;
}

// C++: whether `path`, with its symlinks resolved, is still inside `root`
// (also resolved). Tornado 6.2 compares the unresolved paths only, so a
// symlink in the static directory may point anywhere; we refuse that. A
// path that does not resolve counts as inside: it gets its 404 later.
bool resolves_inside(const std::string& root, const std::string& path) {
    if (path.find('\0') != std::string::npos) {
        return true;
    }
    std::unique_ptr<char, decltype(&std::free)> real_path(::realpath(path.c_str(), nullptr),
                                                          &std::free);
    if (!real_path) {
        return true;
    }
    std::unique_ptr<char, decltype(&std::free)> real_root(::realpath(root.c_str(), nullptr),
                                                          &std::free);
    if (!real_root) {
        return false;
    }
    std::string inside = real_root.get();
    if (!inside.ends_with('/')) {
        inside += '/';
    }
    return (std::string(real_path.get()) + "/").starts_with(inside);
}

// --- content types, as Python's mimetypes.guess_type -----------------------

// ext (".txt") -> type, read once from /etc/mime.types the way
// MimeTypes.readfp does: the first word is the type, the others its
// extensions, "#" starts a comment, a later line wins.
const std::unordered_map<std::string, std::string>& types_map() {
    static const std::unordered_map<std::string, std::string> map = [] {
        std::unordered_map<std::string, std::string> m;
        std::ifstream in("/etc/mime.types");
        std::string line;
        while (std::getline(in, line)) {
            std::vector<std::string> words;
            std::size_t i = 0;
            while (i < line.size()) {
                while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) {
                    ++i;
                }
                std::size_t start = i;
                while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) {
                    ++i;
                }
                if (i > start) {
                    if (line[start] == '#') {
                        break;
                    }
                    words.push_back(line.substr(start, i - start));
                }
            }
            for (std::size_t w = 1; w < words.size(); ++w) {
                m["." + words[w]] = words[0];
            }
        }
        return m;
    }();
    return map;
}

// posixpath.splitext: the extension starts at the last dot of the last
// component, unless only dots come before it (".bashrc" has none).
std::pair<std::string, std::string> splitext(const std::string& p) {
    std::size_t sep = p.rfind('/');
    std::size_t dot = p.rfind('.');
    std::size_t name = sep == std::string::npos ? 0 : sep + 1;
    if (dot != std::string::npos && (sep == std::string::npos || dot > sep)) {
        for (std::size_t i = name; i < dot; ++i) {
            if (p[i] != '.') {
                return {p.substr(0, dot), p.substr(dot)};
            }
        }
    }
    return {p, ""};
}

struct GuessedType {
    std::optional<std::string> type;
    std::optional<std::string> encoding;
};

// mimetypes.guess_type for a path: ".tgz" is read as ".tar.gz", a
// compression suffix (matched case-sensitively, as Python does) is the
// encoding, the extension before it gives the type (case-insensitively).
GuessedType guess_type(const std::string& path) {
    static const std::map<std::string, std::string, std::less<>> kSuffixMap = {
        {".svgz", ".svg.gz"}, {".tgz", ".tar.gz"},   {".taz", ".tar.gz"},
        {".tz", ".tar.gz"},   {".tbz2", ".tar.bz2"}, {".txz", ".tar.xz"}};
    static const std::map<std::string, std::string, std::less<>> kEncodingsMap = {
        {".gz", "gzip"}, {".Z", "compress"}, {".bz2", "bzip2"}, {".xz", "xz"}, {".br", "br"}};
    auto [base, ext] = splitext(path);
    for (auto it = kSuffixMap.find(httputil::ascii_lower(ext)); it != kSuffixMap.end();
         it = kSuffixMap.find(httputil::ascii_lower(ext))) {
        std::tie(base, ext) = splitext(base + it->second);
    }
    GuessedType guessed;
    if (auto it = kEncodingsMap.find(ext); it != kEncodingsMap.end()) {
        guessed.encoding = it->second;
        std::tie(base, ext) = splitext(base);
    }
    const auto& types = types_map();
    if (auto it = types.find(httputil::ascii_lower(ext)); it != types.end()) {
        guessed.type = it->second;
    }
    return guessed;
}

// --- the version cache ------------------------------------------------------

// Tornado's class attributes _static_hashes and _lock.
struct StaticHashes {
    std::mutex lock;
    std::map<std::string, std::optional<std::string>> hashes;
};

StaticHashes& static_hashes() {
    static StaticHashes instance;
    return instance;
}

std::string hex(const unsigned char* data, unsigned int len) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(static_cast<std::size_t>(len) * 2);
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(kHex[data[i] >> 4U]);
        out.push_back(kHex[data[i] & 0xfU]);
    }
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// StaticFileHandler::ContentReader

StaticFileHandler::ContentReader::ContentReader(const std::string& abspath,
                                                std::optional<std::int64_t> start,
                                                std::optional<std::int64_t> end) {
    if (abspath.find('\0') != std::string::npos) {
        throw std::system_error(ENOENT, std::generic_category(), "open " + abspath);
    }
    fd_ = ::open(abspath.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
        throw std::system_error(errno, std::generic_category(), "open " + abspath);
    }
    if (start && ::lseek(fd_, *start, SEEK_SET) < 0) {
        int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(), "seek " + abspath);
    }
    if (end) {
        remaining_ = *end - start.value_or(0);
    }
}

StaticFileHandler::ContentReader::~ContentReader() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

StaticFileHandler::ContentReader::ContentReader(ContentReader&& other) noexcept
    : fd_(other.fd_), remaining_(other.remaining_) {
    other.fd_ = -1;
}

std::string StaticFileHandler::ContentReader::next() {
    std::size_t chunk_size = CHUNK_SIZE;
    if (remaining_ && *remaining_ < static_cast<std::int64_t>(chunk_size)) {
        chunk_size = static_cast<std::size_t>(std::max<std::int64_t>(*remaining_, 0));
    }
    std::string chunk(chunk_size, '\0');
    std::size_t got = 0;
    // A read may return less than asked; Python's file.read fills up to
    // the end of the file.
    while (got < chunk_size) {
        ssize_t n = ::read(fd_, chunk.data() + got, chunk_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw std::system_error(errno, std::generic_category(), "read");
        }
        if (n == 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    chunk.resize(got);
    if (remaining_) {
        *remaining_ -= static_cast<std::int64_t>(got);
    }
    return chunk;
}

// ---------------------------------------------------------------------------
// StaticFileHandler

// Tornado: tornado/web.py:2339 StaticFileHandler.initialize
void StaticFileHandler::initialize(std::string path, std::optional<std::string> default_filename) {
    root_ = std::move(path);
    default_filename_ = std::move(default_filename);
}

// Tornado: tornado/web.py:2344 StaticFileHandler.reset
void StaticFileHandler::reset() {
    StaticHashes& cache = static_hashes();
    std::lock_guard<std::mutex> guard(cache.lock);
    cache.hashes.clear();
}

// Tornado: tornado/web.py:2348 StaticFileHandler.head
Future<void> StaticFileHandler::head() {
    // C++: the route's group arrives in path_args, not as an argument.
    return get(path_args.at(0), false);
}

// C++: RequestHandler::get() with the route's group, as Tornado calls
// get(*path_args).
Future<void> StaticFileHandler::get() {
    return get(path_args.at(0), true);
}

// Tornado: tornado/web.py:2352 StaticFileHandler.get
Future<void> StaticFileHandler::get(std::string url_path, bool include_body) {
    TRACE_SPAN("StaticFileHandler.get", {"path", url_path}, {"include_body", include_body});
    auto self = shared_from_this();
    path_ = parse_url_path(url_path);
    absolute_path_ = validate_absolute_path(root_, get_absolute_path(root_, path_));
    if (!absolute_path_) {
        co_return;  // validate_absolute_path has redirected
    }
    modified_ = get_modified_time();
    set_headers();
    if (should_return_304()) {
        set_status(304);
        co_return;
    }

    // An invalid Range header is ignored, as if it had not been sent.
    std::optional<httputil::RequestRange> request_range;
    std::string_view range_header = request->headers->get("Range", "");
    if (!range_header.empty()) {
        request_range = httputil::_parse_request_range(range_header);
    }
    std::int64_t size = get_content_size();
    std::optional<std::int64_t> start;
    std::optional<std::int64_t> end;
    if (request_range) {
        start = request_range->start;
        end = request_range->end;
        if (start && *start < 0) {
            // A suffix longer than the file means the whole file.
            *start = std::max<std::int64_t>(*start + size, 0);
        }
        // Unsatisfiable: the first byte is past the end, the range is
        // reversed or empty, or a zero-length suffix ("bytes=-0").
        if ((start && (*start >= size || (end && *start >= *end))) || (end && *end == 0)) {
            set_status(416);
            set_header("Content-Type", "text/plain");
            set_header("Content-Range", fmt::format("bytes */{}", size));
            co_return;
        }
        if (end && *end > size) {
            // Clients ask for large ranges to cap their download.
            end = size;
        }
        // 206 only when less than the whole file is asked for (browsers
        // refuse a 206 to "bytes=0-" for audio).
        if (size != (end && *end != 0 ? *end : size) - start.value_or(0)) {
            set_status(206);
            set_header("Content-Range", httputil::_get_content_range(start, end, size));
        }
    }
    std::int64_t content_length = size;
    if (start && end) {
        content_length = *end - *start;
    } else if (end) {
        content_length = *end;
    } else if (start) {
        content_length = size - *start;
    }
    set_header("Content-Length", content_length);

    if (include_body) {
        // One chunk in memory at a time: each is written and flushed before
        // the next is read (and, with gzip on, compressed as it goes).
        ContentReader content = get_content(*absolute_path_, start, end);
        for (std::string chunk = content.next(); !chunk.empty(); chunk = content.next()) {
            TRACE_EVENT("StaticFileHandler.get_content", {"bytes", chunk.size()});
            write(chunk);
            bool closed = false;
            try {
                co_await flush();
            } catch (const iostream::StreamClosedError&) {
                closed = true;
            }
            if (closed) {
                co_return;
            }
        }
    }
}

// Tornado: tornado/web.py:2427 StaticFileHandler.compute_etag
std::optional<std::string> StaticFileHandler::compute_etag() {
    std::optional<std::string> version_hash = _get_cached_version(absolute_path_.value());
    if (!version_hash) {
        return std::nullopt;
    }
    return "\"" + *version_hash + "\"";
}

// Tornado: tornado/web.py:2441 StaticFileHandler.set_headers
void StaticFileHandler::set_headers() {
    set_header("Accept-Ranges", "bytes");
    set_etag_header();
    if (modified_) {
        set_header("Last-Modified", httputil::format_timestamp(*modified_));
    }
    std::string content_type = get_content_type();
    if (!content_type.empty()) {
        set_header("Content-Type", content_type);
    }
    std::int64_t cache_time = get_cache_time(path_, modified_, content_type);
    if (cache_time > 0) {
        set_header("Expires", httputil::format_timestamp(std::time(nullptr) + cache_time));
        set_header("Cache-Control", "max-age=" + std::to_string(cache_time));
    }
    set_extra_headers(path_);
}

// Tornado: tornado/web.py:2465 StaticFileHandler.should_return_304
bool StaticFileHandler::should_return_304() {
    bool result = false;
    // If-None-Match, when sent, decides alone (RFC 7232 6).
    if (!request->headers->get("If-None-Match", "").empty()) {
        result = check_etag_header();
    } else if (auto ims_value = request->headers->get("If-Modified-Since")) {
        if (auto date_tuple = httputil::parsedate(*ims_value)) {
            std::optional<std::int64_t> if_since = httputil::date_fields_to_timestamp(*date_tuple);
            if (!if_since) {
                // Tornado 6.2's datetime(*date_tuple) raises ValueError: a 500.
                throw std::invalid_argument("If-Modified-Since out of range: " +
                                            std::string(*ims_value));
            }
            result = modified_ && *if_since >= *modified_;
        }
    }
    TRACE_EVENT("StaticFileHandler.should_return_304", {"result", result});
    return result;
}

// Tornado: tornado/web.py:2486 StaticFileHandler.get_absolute_path
std::string StaticFileHandler::get_absolute_path(const std::string& root, const std::string& path) {
    return abspath(path_join(root, path));
}

// Tornado: tornado/web.py:2502 StaticFileHandler.validate_absolute_path
std::optional<std::string> StaticFileHandler::validate_absolute_path(
    const std::string& root, const std::string& absolute_path) {
    // The root with its trailing slash, so that "/static-other" is not
    // inside "/static"; the path gets one too, so that the root itself is.
    std::string root_dir = abspath(root);
    if (!root_dir.ends_with('/')) {
        root_dir += '/';
    }
    if (!(absolute_path + "/").starts_with(root_dir) || !resolves_inside(root, absolute_path)) {
        throw HTTPError(403, path_ + " is not in root static directory");
    }
    std::string file = absolute_path;
    std::optional<struct stat> st = stat_path(file);
    if (st && S_ISDIR(st->st_mode) && default_filename_) {
        // request->path, not path_: the route may have trimmed a prefix.
        if (!request->path.ends_with('/')) {
            if (request->path.starts_with("//")) {
                // "//host/" in a Location is another host: an open redirect.
                throw HTTPError(403, "cannot redirect path with two initial slashes");
            }
            redirect(request->path + "/", true);
            return std::nullopt;
        }
        file = path_join(file, *default_filename_);
        if (!resolves_inside(root, file)) {
            throw HTTPError(403, path_ + " is not in root static directory");
        }
        st = stat_path(file);
    }
    if (!st) {
        throw HTTPError(404);
    }
    if (!S_ISREG(st->st_mode)) {
        throw HTTPError(403, path_ + " is not a file");
    }
    return file;
}

// Tornado: tornado/web.py:2555 StaticFileHandler.get_content
StaticFileHandler::ContentReader StaticFileHandler::get_content(const std::string& abspath,
                                                                std::optional<std::int64_t> start,
                                                                std::optional<std::int64_t> end) {
    return ContentReader(abspath, start, end);
}

// Tornado: tornado/web.py:2592 StaticFileHandler.get_content_version
std::string StaticFileHandler::get_content_version(const std::string& abspath) {
    ContentReader content = get_content(abspath);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr);
    for (std::string chunk = content.next(); !chunk.empty(); chunk = content.next()) {
        EVP_DigestUpdate(ctx.get(), chunk.data(), chunk.size());
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &len);
    return hex(digest, len);
}

// Tornado: tornado/web.py:2609 StaticFileHandler._stat
const StaticFileHandler::StatResult& StaticFileHandler::_stat() {
    if (!stat_result_) {
        std::optional<struct stat> st = stat_path(absolute_path_.value());
        if (!st) {
            throw std::system_error(errno, std::generic_category(), "stat " + *absolute_path_);
        }
        // Python's int(st_mtime) truncates towards zero, also before 1970.
        std::int64_t mtime = st->st_mtim.tv_sec;
        if (mtime < 0 && st->st_mtim.tv_nsec > 0) {
            ++mtime;
        }
        stat_result_ = StatResult{st->st_size, mtime};
    }
    return *stat_result_;
}

// Tornado: tornado/web.py:2614 StaticFileHandler.get_content_size
std::int64_t StaticFileHandler::get_content_size() {
    return _stat().size;
}

// Tornado: tornado/web.py:2628 StaticFileHandler.get_modified_time
std::optional<std::int64_t> StaticFileHandler::get_modified_time() {
    return _stat().mtime;
}

// Tornado: tornado/web.py:2641 StaticFileHandler.get_content_type
std::string StaticFileHandler::get_content_type() {
    GuessedType guessed = guess_type(absolute_path_.value());
    // RFC 6713: a gzip file is application/gzip; bzip2 and the other
    // encodings have no registered type.
    if (guessed.encoding == "gzip") {
        return "application/gzip";
    }
    if (guessed.encoding) {
        return "application/octet-stream";
    }
    return guessed.type.value_or("application/octet-stream");
}

// Tornado: tornado/web.py:2665 StaticFileHandler.get_cache_time
std::int64_t StaticFileHandler::get_cache_time(const std::string& /*path*/,
                                               std::optional<std::int64_t> /*modified*/,
                                               const std::string& /*mime_type*/) {
    return request->arguments.contains("v") ? CACHE_MAX_AGE : 0;
}

// Tornado: tornado/web.py:2679 StaticFileHandler.make_static_url
std::string StaticFileHandler::make_static_url(const ApplicationSettings& settings,
                                               const std::string& path, bool include_version) {
    std::string url = settings.static_url_prefix + path;
    if (!include_version) {
        return url;
    }
    std::optional<std::string> version_hash = get_version(settings, path);
    if (!version_hash) {
        return url;
    }
    return url + "?v=" + *version_hash;
}

// Tornado: tornado/web.py:2708 StaticFileHandler.parse_url_path
// C++: the separator is always "/", so the path is kept as it is.
std::string StaticFileHandler::parse_url_path(const std::string& url_path) {
    return url_path;
}

// Tornado: tornado/web.py:2722 StaticFileHandler.get_version
std::optional<std::string> StaticFileHandler::get_version(const ApplicationSettings& settings,
                                                          const std::string& path) {
    return _get_cached_version(get_absolute_path(settings.static_path, path));
}

// Tornado: tornado/web.py:2739 StaticFileHandler._get_cached_version
std::optional<std::string> StaticFileHandler::_get_cached_version(const std::string& abs_path) {
    StaticHashes& cache = static_hashes();
    std::lock_guard<std::mutex> guard(cache.lock);
    auto it = cache.hashes.find(abs_path);
    if (it == cache.hashes.end()) {
        std::optional<std::string> version;
        try {
            version = get_content_version(abs_path);
        } catch (const std::exception&) {
            log::gen_log.error("Could not open static file '{}'", abs_path);
        }
        it = cache.hashes.emplace(abs_path, std::move(version)).first;
    }
    return it->second;
}

}  // namespace tornado::web
