# Writes a text file into a C++ source file as one raw string literal named
# SYMBOL: docs/steps.md, so that `tornado-walk explain` and `step` print the
# explanations the docs show, and the browser viewer's page template.
# Run by the build:
#   cmake -DINPUT=docs/steps.md -DOUTPUT=steps_md.cc -DSYMBOL=kStepsMarkdown -P embed_text.cmake
file(READ "${INPUT}" text)
set(delimiter "tornado_embedded")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${INPUT} contains \")${delimiter}\"\", which ends the embedded string")
endif()
file(RELATIVE_PATH source "${CMAKE_SOURCE_DIR}" "${INPUT}")
set(code "// Generated from ${INPUT} by walkthrough/cmake/embed_text.cmake: edit that file.
namespace tornado::walkthrough::detail {
extern const char ${SYMBOL}[];
const char ${SYMBOL}[] = R\"${delimiter}(${text})${delimiter}\";
}  // namespace tornado::walkthrough::detail
")
file(WRITE "${OUTPUT}" "${code}")
