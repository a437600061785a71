// Fuzz target: multipart/form-data bodies (httputil.parse_multipart_form_data
// and _parse_header, through parse_body_arguments as _parse_body calls it).
//
// The first byte sets the boundary's length (1..70), the next bytes are the
// boundary, the rest is the body. Asserts, beyond "no crash" and the only
// documented failure (HTTPInputError):
//  - every argument value and every file's body is bytes of the body;
//  - a file's content type is empty only when its part has a Content-Type
//    header (an empty one); without one it is "application/unknown";
//  - a field is either an argument or a file: a file never also adds an
//    argument value for it (Tornado keeps them apart);
//  - parsing the same input twice gives the same result.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tornado/httputil.h"

#include "fuzz_check.h"

namespace {

struct Parsed {
    tornado::httputil::Arguments arguments;
    tornado::httputil::Files files;
    bool failed = false;
};

Parsed parse(std::string_view boundary, std::string_view body) {
    Parsed out;
    try {
        tornado::httputil::parse_body_arguments(
            "multipart/form-data; boundary=" + std::string(boundary), body, out.arguments,
            out.files);
    } catch (const tornado::httputil::HTTPInputError&) {
        out.failed = true;
    }
    return out;
}

bool same_files(const tornado::httputil::Files& a, const tornado::httputil::Files& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
        if (ia->first != ib->first || ia->second.size() != ib->second.size()) {
            return false;
        }
        for (std::size_t i = 0; i < ia->second.size(); ++i) {
            const auto& fa = ia->second[i];
            const auto& fb = ib->second[i];
            if (fa.filename != fb.filename || fa.body != fb.body ||
                fa.content_type != fb.content_type) {
                return false;
            }
        }
    }
    return true;
}

// Whether some line of the body could be a part's Content-Type header
// (PartHeaders matches names case-insensitively).
bool has_content_type_header(std::string_view body) {
    static constexpr std::string_view kName = "content-type:";
    for (std::size_t i = 0; i + kName.size() <= body.size(); ++i) {
        std::size_t j = 0;
        while (j < kName.size() &&
               std::tolower(static_cast<unsigned char>(body[i + j])) == kName[j]) {
            ++j;
        }
        if (j == kName.size()) {
            return true;
        }
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    std::size_t boundary_length = 1 + data[0] % 70;
    if (size < 1 + boundary_length) {
        return 0;
    }
    std::string_view all(reinterpret_cast<const char*>(data), size);
    std::string_view boundary = all.substr(1, boundary_length);
    std::string_view body = all.substr(1 + boundary_length);

    Parsed first = parse(boundary, body);
    for (const auto& [name, values] : first.arguments) {
        for (const std::string& value : values) {
            FUZZ_CHECK(body.find(value) != std::string_view::npos);
        }
    }
    for (const auto& [name, files] : first.files) {
        for (const auto& file : files) {
            FUZZ_CHECK(body.find(file.body) != std::string_view::npos);
            // Empty only from an empty Content-Type header in the part, as
            // in Tornado (6.2 keeps ''); absent, it is "application/unknown".
            FUZZ_CHECK(!file.content_type.empty() || has_content_type_header(body));
        }
    }
    Parsed second = parse(boundary, body);
    FUZZ_CHECK(second.failed == first.failed);
    FUZZ_CHECK(second.arguments == first.arguments);
    FUZZ_CHECK(same_files(second.files, first.files));
    return 0;
}
