# Writes docs/steps.md into a C++ source file as one raw string literal, so
# that `tornado-walk explain` and `step` print the explanations the docs show.
# Run by the build: cmake -DINPUT=docs/steps.md -DOUTPUT=steps_md.cc -P embed_steps.cmake
file(READ "${INPUT}" text)
set(delimiter "tornado_steps_md")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${INPUT} contains \")${delimiter}\"\", which ends the embedded string")
endif()
set(code "// Generated from docs/steps.md by walkthrough/cmake/embed_steps.cmake: edit that file.
namespace tornado::walkthrough::detail {
extern const char kStepsMarkdown[];
const char kStepsMarkdown[] = R\"${delimiter}(${text})${delimiter}\";
}  // namespace tornado::walkthrough::detail
")
file(WRITE "${OUTPUT}" "${code}")
