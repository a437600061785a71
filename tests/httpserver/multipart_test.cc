// httputil: multipart/form-data and form bodies (parse_body_arguments,
// parse_multipart_form_data, _parse_header). Pure functions: no sockets;
// the wire answers (400 pages) are checked in tests/web/arguments_test.cc.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tornado/httputil.h"

namespace tornado::httpserver_test {
namespace {

using httputil::Arguments;
using httputil::Files;
using httputil::HTTPInputError;
using httputil::parse_body_arguments;
using httputil::parse_multipart_form_data;
using Strings = std::vector<std::string>;

// One part "--1234\r\n<head>\r\n\r\n<body>\r\n" per pair, then "--1234--".
std::string form(const std::vector<std::pair<std::string, std::string>>& parts) {
    std::string out;
    for (const auto& [head, body] : parts) {
        out += "--1234\r\n" + head + "\r\n\r\n" + body + "\r\n";
    }
    return out + "--1234--";
}

struct Parsed {
    Arguments args;
    Files files;
};

Parsed parse(const std::string& boundary, const std::string& data) {
    Parsed p;
    parse_multipart_form_data(boundary, data, p.args, p.files);
    return p;
}

const std::string kFileHead = "Content-Disposition: form-data; name=\"files\"; filename=\"ab.txt\"";

// Tornado: tornado/test/httputil_test.py:106 MultipartFormDataTest.test_file_upload
TEST(MultipartFormDataTest, FileUploadGivesFilenameBodyAndDefaultContentType) {
    Parsed p = parse("1234", form({{kFileHead, "Foo"}}));
    ASSERT_EQ(p.files["files"].size(), 1U);
    EXPECT_EQ(p.files["files"][0].filename, "ab.txt");
    EXPECT_EQ(p.files["files"][0].body, "Foo");
    EXPECT_EQ(p.files["files"][0].content_type, "application/unknown");
    EXPECT_TRUE(p.args.empty());
}

// An empty Content-Type header is kept as the empty type, not replaced by
// the default: Tornado's part_headers.get("Content-Type", default) only
// falls back when the header is absent (6.2 gives content_type '').
TEST(MultipartFormDataTest, EmptyContentTypeHeaderGivesAnEmptyType) {
    Parsed p = parse("1234", form({{kFileHead + "\r\nContent-Type: ", "Foo"}}));
    ASSERT_EQ(p.files["files"].size(), 1U);
    EXPECT_EQ(p.files["files"][0].body, "Foo");
    EXPECT_EQ(p.files["files"][0].content_type, "");
}

// Tornado: tornado/test/httputil_test.py:120 MultipartFormDataTest.test_unquoted_names
TEST(MultipartFormDataTest, UnquotedNamesAreAccepted) {
    Parsed p = parse("1234", form({{"Content-Disposition: form-data; name=files; filename=ab.txt",
                                    "Foo"}}));
    ASSERT_EQ(p.files["files"].size(), 1U);
    EXPECT_EQ(p.files["files"][0].filename, "ab.txt");
    EXPECT_EQ(p.files["files"][0].body, "Foo");
}

// Tornado: tornado/test/httputil_test.py:135 MultipartFormDataTest.test_special_filenames
TEST(MultipartFormDataTest, QuotedFilenamesWithSemicolonsQuotesAndBackslashesRoundTrip) {
    for (std::string filename :
         {"a;b.txt", "a\"b.txt", "a\";b.txt", "a;\"b.txt", "a\";\";.txt", "a\\\"b.txt", "a\\b.txt"}) {
        std::string escaped;
        for (char c : filename) {
            if (c == '\\' || c == '"') {
                escaped.push_back('\\');
            }
            escaped.push_back(c);
        }
        Parsed p = parse(
            "1234",
            form({{"Content-Disposition: form-data; name=\"files\"; filename=\"" + escaped + "\"",
                   "Foo"}}));
        ASSERT_EQ(p.files["files"].size(), 1U) << filename;
        EXPECT_EQ(p.files["files"][0].filename, filename);
        EXPECT_EQ(p.files["files"][0].body, "Foo");
    }
}

// Tornado 6.2: tornado/test/httputil_test.py MultipartFormDataTest.test_non_ascii_filename
TEST(MultipartFormDataTest, Rfc2231FilenameWinsOverThePlainOneAndIsDecodedAsUtf8) {
    Parsed p = parse("1234", form({{"Content-Disposition: form-data; name=\"files\"; "
                                    "filename=\"ab.txt\"; filename*=UTF-8''%C3%A1b.txt",
                                    "Foo"}}));
    ASSERT_EQ(p.files["files"].size(), 1U);
    EXPECT_EQ(p.files["files"][0].filename, "\xc3\xa1" "b.txt");
}

// Tornado: tornado/test/httputil_test.py:160 MultipartFormDataTest.test_boundary_starts_and_ends_with_quotes
TEST(MultipartFormDataTest, QuotesAroundTheBoundaryAreDropped) {
    Parsed p = parse("\"1234\"", form({{kFileHead, "Foo"}}));
    ASSERT_EQ(p.files["files"].size(), 1U);
    EXPECT_EQ(p.files["files"][0].body, "Foo");
}

// Tornado: tornado/test/httputil_test.py:174 MultipartFormDataTest.test_missing_headers
TEST(MultipartFormDataTest, PartWithoutHeaderBlockThrows) {
    Parsed p;
    EXPECT_THROW(parse_multipart_form_data("1234", "--1234\r\n\r\nFoo\r\n--1234--", p.args, p.files),
                 HTTPInputError);
    EXPECT_TRUE(p.files.empty());
}

// Tornado: tornado/test/httputil_test.py:186 MultipartFormDataTest.test_invalid_content_disposition
TEST(MultipartFormDataTest, DispositionOtherThanFormDataThrows) {
    EXPECT_THROW(
        parse("1234", form({{"Content-Disposition: invalid; name=\"files\"; filename=\"ab.txt\"",
                             "Foo"}})),
        HTTPInputError);
}

// Tornado: tornado/test/httputil_test.py:199 MultipartFormDataTest.test_line_does_not_end_with_correct_line_break
TEST(MultipartFormDataTest, PartNotEndingInCrlfThrows) {
    EXPECT_THROW(parse("1234", "--1234\r\n" + kFileHead + "\r\n\r\nFoo--1234--"), HTTPInputError);
}

// Tornado: tornado/test/httputil_test.py:211 MultipartFormDataTest.test_content_disposition_header_without_name_parameter
TEST(MultipartFormDataTest, DispositionWithoutNameThrows) {
    EXPECT_THROW(parse("1234", form({{"Content-Disposition: form-data; filename=\"ab.txt\"", "Foo"}})),
                 HTTPInputError);
}

// Tornado: tornado/test/httputil_test.py:224 MultipartFormDataTest.test_data_after_final_boundary
TEST(MultipartFormDataTest, DataAfterTheFinalBoundaryIsIgnored) {
    Parsed p = parse("1234", form({{kFileHead, "Foo"}}) + "\r\n");
    ASSERT_EQ(p.files["files"].size(), 1U);
    EXPECT_EQ(p.files["files"][0].body, "Foo");
}

// Tornado 6.5.3: tornado/test/httputil_test.py MultipartFormDataTest.test_disposition_param_linear_performance
// (checked by size, not time: 200,000 quoted semicolons parse into one parameter)
TEST(MultipartFormDataTest, ManySemicolonsInAQuotedParameterStayOneParameter) {
    std::string head = "Content-Disposition: form-data; x=\"" + std::string(200000, ';') +
                       "\"; name=\"files\"; filename=\"a.txt\"";
    Parsed p = parse("1234", form({{head, "Foo"}}));
    ASSERT_EQ(p.files["files"].size(), 1U);
    EXPECT_EQ(p.files["files"][0].filename, "a.txt");
}

TEST(MultipartFormDataTest, MissingFinalBoundaryThrows) {
    EXPECT_THROW(parse("1234", "--1234\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n"),
                 HTTPInputError);
}

TEST(MultipartFormDataTest, FieldsAndFilesKeepOrderAndRepeatedContentTypesAreJoined) {
    Parsed p = parse("1234", form({{"Content-Disposition: form-data; name=a", "1"},
                                   {"Content-Disposition: form-data; name=a", "2"},
                                   {"Content-Disposition: form-data; name=f; filename=x\r\n"
                                    "Content-Type: text/x\r\ncontent-type: b",
                                    ""}}));
    EXPECT_EQ(p.args["a"], (Strings{"1", "2"}));
    ASSERT_EQ(p.files["f"].size(), 1U);
    EXPECT_EQ(p.files["f"][0].content_type, "text/x,b");
    EXPECT_EQ(p.files["f"][0].body, "");
}

TEST(MultipartFormDataTest, BinaryBodiesWithEveryByteValueArePreserved) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) {
        bytes.push_back(static_cast<char>(i));
    }
    bytes += "\r\n--123\r\n--1234-\r\n";  // near-boundaries inside the body
    Parsed p = parse("1234", form({{kFileHead, bytes}, {"Content-Disposition: form-data; name=v",
                                                        bytes}}));
    ASSERT_EQ(p.files["files"].size(), 1U);
    EXPECT_EQ(p.files["files"][0].body, bytes);
    EXPECT_EQ(p.args["v"], (Strings{bytes}));
}

TEST(MultipartFormDataTest, ValueMayBeEmptyOrACrlfAndHeadLinesMayEndInBareLf) {
    // The value ends right after the head's CRLF CRLF.
    Parsed empty = parse("1234", "--1234\r\nContent-Disposition: form-data; name=a\r\n\r\n--1234--");
    EXPECT_EQ(empty.args["a"], (Strings{""}));
    Parsed crlf = parse("1234", form({{"Content-Disposition: form-data; name=a", "\r\n"}}));
    EXPECT_EQ(crlf.args["a"], (Strings{"\r\n"}));
    Parsed lf = parse("1234", form({{"X-A: 1\nContent-Disposition: form-data;\n name=b", "v"}}));
    EXPECT_EQ(lf.args["b"], (Strings{"v"}));
}

TEST(MultipartFormDataTest, MalformedPartHeadersThrow) {
    for (std::string head : {std::string(" Content-Disposition: form-data; name=a"),  // leading space
                             std::string("Content-Disposition: form-data; name=a\r\nnocolon"),
                             std::string("Content-Disposition: form-data; name=\xff")}) {  // not UTF-8
        EXPECT_THROW(parse("1234", form({{head, "x"}})), HTTPInputError) << head;
    }
    EXPECT_THROW(parse("1234", "preamble\r\n--1234--"), HTTPInputError);
}

TEST(MultipartFormDataTest, TwentyThousandPartsAllParse) {
    std::string data;
    for (int i = 0; i < 20000; ++i) {
        data += "--1234\r\nContent-Disposition: form-data; name=a\r\n\r\n" + std::to_string(i) + "\r\n";
    }
    data += "--1234--";
    Parsed p = parse("1234", data);
    ASSERT_EQ(p.args["a"].size(), 20000U);
    EXPECT_EQ(p.args["a"].back(), "19999");
}

TEST(MultipartFormDataTest, ABoundaryNeverFoundInAMegabyteOfNearMatchesThrows) {
    // With a naive search this is about 8,000 comparisons per byte.
    std::string boundary = std::string(8000, 'a') + "b";
    std::string data(1 << 20, 'a');
    Parsed p;
    EXPECT_THROW(parse_multipart_form_data(boundary, data, p.args, p.files), HTTPInputError);
    std::string parts = "--" + boundary + "\r\n" + data;  // the separator is never found either
    EXPECT_THROW(parse_multipart_form_data(boundary, parts + "--" + boundary + "--", p.args, p.files),
                 HTTPInputError);
}

TEST(ParseHeaderTest, SplitsTheValueAndUnescapesQuotedParameters) {
    auto [key, params] = httputil::_parse_header(
        "form-data; foo=\"b\\\\a\\\"r\"; file*=utf-8''T%C3%A4st; NAME=<x>");
    EXPECT_EQ(key, "form-data");
    EXPECT_EQ(params["foo"], "b\\a\"r");
    EXPECT_EQ(params["file"], "T\xc3\xa4st");
    EXPECT_EQ(params["name"], "x");
}

TEST(ParseHeaderTest, Rfc2231ContinuationsAreJoinedInNumericOrder) {
    auto [key, params] = httputil::_parse_header(
        "form-data; f*10=z; f*2=b; f*002=a; g*0*=latin-1''%e4; g*1=x; h*=nocharset%e4");
    EXPECT_EQ(params["f"], "abz");
    EXPECT_EQ(params["g"], "\xc3\xa4x");
    EXPECT_EQ(params["h"], "nocharset\xef\xbf\xbd");  // no charset: ASCII, replaced
}

TEST(ParseHeaderTest, MixedNumberedAndUnnumberedContinuationsThrowAsPythonsSortDoes) {
    EXPECT_THROW(httputil::_parse_header("form-data; f*=a; f*0=b"), HTTPInputError);
    EXPECT_THROW(httputil::_parse_header("form-data; f*" + std::string(4301, '1') + "=a"),
                 HTTPInputError);
}

TEST(ParseBodyArgumentsTest, MultipartNeedsABoundaryParameter) {
    Arguments args;
    Files files;
    std::string body = form({{"Content-Disposition: form-data; name=a", "1"}});
    EXPECT_THROW(parse_body_arguments("multipart/form-data", body, args, files), HTTPInputError);
    EXPECT_THROW(parse_body_arguments("multipart/form-data; boundary=", body, args, files),
                 HTTPInputError);
    parse_body_arguments("multipart/form-data; charset=x;  boundary=1234 ", body, args, files);
    EXPECT_EQ(args["a"], (Strings{"1"}));
}

TEST(ParseBodyArgumentsTest, FormBodyWithAContentEncodingThrows) {
    httputil::HTTPHeaders headers;
    headers.add("Content-Encoding", "deflate");
    Arguments args;
    Files files;
    EXPECT_THROW(parse_body_arguments("application/x-www-form-urlencoded", "a=1", args, files,
                                      &headers),
                 HTTPInputError);
    // Other content types are not parsed at all, so nothing is wrong with them.
    parse_body_arguments("text/plain", "a=1", args, files, &headers);
    EXPECT_TRUE(args.empty());
}

TEST(ParseBodyArgumentsTest, UrlencodedKeepsBlankValuesAndRawBytes) {
    Arguments args;
    Files files;
    parse_body_arguments("application/x-www-form-urlencoded; charset=x", "a=1&a=&b&c=%ff", args,
                         files);
    EXPECT_EQ(args["a"], (Strings{"1", ""}));
    EXPECT_EQ(args["b"], (Strings{""}));
    EXPECT_EQ(args["c"], (Strings{"\xff"}));
}

TEST(Utf8DecodeReplaceTest, ReplacesEachMaximalInvalidSubpartOnce) {
    // b"\xe2\x82x\xff\xed\xa0\x80".decode("utf-8", "replace") == "\ufffdx\ufffd\ufffd\ufffd\ufffd"
    EXPECT_EQ(httputil::utf8_decode_replace("\xe2\x82x\xff\xed\xa0\x80"),
              "\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(httputil::utf8_decode_replace("ok \xc3\xa9"), "ok \xc3\xa9");
}

}  // namespace
}  // namespace tornado::httpserver_test
