# The recipe checker's negative checks: it must fail, naming the file and the problem, on an undeclared option,
# a misspelt option, a missing source path, a recipe with no options and a local Buildroot site that is not this
# project, and an undeclared EC_* option in a document, so that its pass on the real files means something.
#
#   cmake -DSOURCE_DIR=<project root> -DCHECKER=<check_recipe_options.cmake> -DFIXTURES=<dir> -P this
cmake_minimum_required(VERSION 3.25)

# Runs the checker on `recipes`; fails unless it exits non-zero and its output matches every regex in ARGN.
function(expect_rejection recipes)
  execute_process(COMMAND "${CMAKE_COMMAND}" "-DSOURCE_DIR=${SOURCE_DIR}" "-DRECIPES=${recipes}" -P "${CHECKER}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "the checker accepted ${recipes}:\n${out}${err}")
  endif()
  foreach(expected IN LISTS ARGN)
    if(NOT "${out}${err}" MATCHES "${expected}")
      message(FATAL_ERROR "the checker rejected ${recipes} without saying '${expected}':\n${out}${err}")
    endif()
  endforeach()
endfunction()

expect_rejection("${FIXTURES}/bad_option.bb"
                 "bad_option.bb: option -DEC_WITH_NO_SUCH_THING is not declared"
                 "bad_option.bb: source path \\$\\{S\\}/examples/systemd/no-such-unit.service does not exist")
expect_rejection("${FIXTURES}/bad_option.mk" "bad_option.mk: option -DEC_WITH_OPENCLL is not declared")
expect_rejection("${FIXTURES}/no_options.mk" "no_options.mk: passes no -D<NAME>= option")
expect_rejection("${FIXTURES}/br2-external/package/edge-agent/edge-agent.mk"
                 "edge-agent.mk: the local site .*/fixtures is not the project root")
# A document: its EC_* option is checked, a third-party project's option beside it is not.
execute_process(COMMAND "${CMAKE_COMMAND}" "-DSOURCE_DIR=${SOURCE_DIR}" "-DRECIPES=${FIXTURES}/bad_option.mk"
                "-DDOCS=${FIXTURES}/bad_doc.md" -P "${CHECKER}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT "${out}${err}" MATCHES "bad_doc.md: option -DEC_WITH_CUDA is not declared")
  message(FATAL_ERROR "the checker did not reject the document's undeclared option:\n${out}${err}")
endif()
if("${out}${err}" MATCHES "PAHO_WITH_SSL")
  message(FATAL_ERROR "the checker reported a third-party option in a document:\n${out}${err}")
endif()
expect_rejection("${FIXTURES}/does_not_exist.bb" "does_not_exist.bb: recipe file not found")

# The declared options in the fixtures (EC_BUILD_TESTS, CMAKE_BUILD_TYPE) must not be reported.
execute_process(COMMAND "${CMAKE_COMMAND}" "-DSOURCE_DIR=${SOURCE_DIR}" "-DRECIPES=${FIXTURES}/bad_option.bb"
                -P "${CHECKER}" OUTPUT_VARIABLE out ERROR_VARIABLE err)
if("${out}${err}" MATCHES "EC_BUILD_TESTS|CMAKE_BUILD_TYPE")
  message(FATAL_ERROR "the checker reported a declared option:\n${out}${err}")
endif()
message(STATUS "recipe checker self-test: every bad fixture rejected with the file and the problem named")
