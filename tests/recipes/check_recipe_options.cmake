# Checks that firmware recipes (Yocto, Buildroot) and deploy docs build this project with options and files that
# exist.
#
#   cmake -DSOURCE_DIR=<project root> -DRECIPES=<file|file> [-DDOCS=<file|file>] -P check_recipe_options.cmake
#   (';' separates files too)
#
# Why: a recipe is text that no build here ever runs (no bitbake, no Buildroot, no network), so a renamed CMake
# option or a moved file would only break on the day someone builds a firmware image. CMake silently ignores an
# unknown -D (a warning at most), so the image would even build, without the feature the recipe meant to set.
#
# Each recipe must pass at least one -D<NAME>=. Every <NAME> must be a standard CMAKE_* variable or be declared
# in the project's CMake files by option(), cmake_dependent_option(), set(... CACHE ...) or a find_program/
# find_path/find_library/find_file result variable (all cache entries). Every path written as ${S}/<path>
# (Yocto: the source checkout) or $(@D)/<path> (Buildroot: the package's build folder, the same checkout) must
# exist under SOURCE_DIR. A Buildroot package built from the local checkout ($(BR2_EXTERNAL_<NAME>_PATH)/<rel> as
# its site) must lead back to SOURCE_DIR. Documents (DOCS) are held to the same rule for their -DEC_<NAME>= options.
# Exits non-zero naming the file and the option or path on any failure.
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED SOURCE_DIR OR NOT IS_DIRECTORY "${SOURCE_DIR}")
  message(FATAL_ERROR "SOURCE_DIR must name the project root (got '${SOURCE_DIR}')")
endif()
string(REPLACE "|" ";" RECIPES "${RECIPES}")
if(NOT RECIPES)
  message(FATAL_ERROR "RECIPES must list the recipe files to check")
endif()

# The project's CMake files: every CMakeLists.txt and *.cmake outside build trees and the recipes themselves.
# Top-level folders are walked one by one so that build trees (many thousands of files) are never traversed.
function(ec_project_cmake_files out)
  set(files "CMakeLists.txt")
  file(GLOB top LIST_DIRECTORIES true RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/*")
  foreach(entry IN LISTS top)
    if(entry MATCHES "^(build.*|\\..*)$" OR NOT IS_DIRECTORY "${SOURCE_DIR}/${entry}")
      continue()
    endif()
    file(GLOB_RECURSE found LIST_DIRECTORIES false RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/${entry}/CMakeLists.txt"
         "${SOURCE_DIR}/${entry}/*.cmake")
    list(APPEND files ${found})
  endforeach()
  list(FILTER files EXCLUDE REGEX "^examples/(yocto|buildroot)/|^tests/recipes/fixtures/")
  set(${out} ${files} PARENT_SCOPE)
endfunction()

# Names declared as cache entries (options, cache variables, find_* results) in one file's text.
function(ec_declared_names text out)
  set(ws "[ \t\r\n]*")
  set(name "[A-Za-z_][A-Za-z0-9_]*")
  set(found "")
  string(REGEX MATCHALL "(option|cmake_dependent_option|find_program|find_path|find_library|find_file)\\(${ws}${name}"
         calls "${text}")
  foreach(call IN LISTS calls)
    string(REGEX REPLACE "^[a-z_]+\\(${ws}" "" n "${call}")
    list(APPEND found "${n}")
  endforeach()
  # set(NAME ... CACHE ...): the arguments up to the closing parenthesis must contain the CACHE keyword.
  string(REGEX MATCHALL "set\\(${ws}${name}[^)]*[ \t\r\n]CACHE[ \t\r\n]" cache_sets "${text}")
  foreach(call IN LISTS cache_sets)
    string(REGEX MATCH "set\\(${ws}(${name})" _ "${call}")
    list(APPEND found "${CMAKE_MATCH_1}")
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

# The BR2_EXTERNAL tree of a Buildroot recipe: the nearest folder above it that holds external.desc.
function(ec_find_external_tree recipe out)
  get_filename_component(dir "${recipe}" DIRECTORY)
  get_filename_component(dir "${dir}" ABSOLUTE)
  while(NOT EXISTS "${dir}/external.desc")
    get_filename_component(parent "${dir}" DIRECTORY)
    if(parent STREQUAL dir)
      set(${out} "" PARENT_SCOPE)
      return()
    endif()
    set(dir "${parent}")
  endwhile()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

ec_project_cmake_files(cmake_files)
set(declared "")
foreach(f IN LISTS cmake_files)
  file(READ "${SOURCE_DIR}/${f}" text)
  ec_declared_names("${text}" names)
  list(APPEND declared ${names})
endforeach()
list(REMOVE_DUPLICATES declared)
list(LENGTH declared declared_count)
# Guard against a broken scan passing everything vacuously: the project declares well over ten options.
if(declared_count LESS 10)
  message(FATAL_ERROR "found only ${declared_count} cache declarations in ${SOURCE_DIR}: the scan is broken")
endif()

set(problems "")
foreach(recipe IN LISTS RECIPES)
  if(NOT EXISTS "${recipe}")
    list(APPEND problems "${recipe}: recipe file not found")
    continue()
  endif()
  file(READ "${recipe}" text)

  string(REGEX MATCHALL "-D[A-Za-z_][A-Za-z0-9_]*=" defines "${text}")
  if(NOT defines)
    list(APPEND problems "${recipe}: passes no -D<NAME>= option at all (nothing to check: wrong file?)")
  endif()
  foreach(d IN LISTS defines)
    string(REGEX REPLACE "^-D(.*)=$" "\\1" n "${d}")
    if(n MATCHES "^CMAKE_")
      continue()
    endif()
    list(FIND declared "${n}" at)
    if(at EQUAL -1)
      list(APPEND problems "${recipe}: option -D${n} is not declared by the project's CMake files")
    endif()
  endforeach()

  # ${S}/path (Yocto) and $(@D)/path (Buildroot) name files of the project's source tree.
  string(REGEX MATCHALL "(\\$\\{S\\}|\\$\\(@D\\))/[A-Za-z0-9_.+/-]+" paths "${text}")
  foreach(p IN LISTS paths)
    string(REGEX REPLACE "^(\\$\\{S\\}|\\$\\(@D\\))/" "" rel "${p}")
    if(NOT EXISTS "${SOURCE_DIR}/${rel}")
      list(APPEND problems "${recipe}: source path ${p} does not exist (${SOURCE_DIR}/${rel})")
    endif()
  endforeach()

  # Buildroot, site method local: $(BR2_EXTERNAL_<NAME>_PATH)/<rel> must lead from the external tree (the
  # folder above the recipe holding external.desc) back to this project's root.
  if(text MATCHES "_SITE[ \t]*=[ \t]*\\$\\(BR2_EXTERNAL_([A-Za-z0-9_]+)_PATH\\)/?([^ \t\r\n]*)")
    set(external_name "${CMAKE_MATCH_1}")
    set(site_rel "${CMAKE_MATCH_2}")
    ec_find_external_tree("${recipe}" external_root)
    if(NOT external_root)
      list(APPEND problems "${recipe}: no external.desc in any folder above it (BR2_EXTERNAL_${external_name}_PATH)")
    else()
      file(STRINGS "${external_root}/external.desc" desc_name REGEX "^name:")
      file(REAL_PATH "${external_root}/${site_rel}" site_dir)
      file(REAL_PATH "${SOURCE_DIR}" source_dir)
      if(NOT desc_name MATCHES "^name:[ \t]*${external_name}[ \t]*$")
        list(APPEND problems "${recipe}: BR2_EXTERNAL_${external_name}_PATH but ${external_root}/external.desc says '${desc_name}'")
      elseif(NOT site_dir STREQUAL source_dir)
        list(APPEND problems "${recipe}: the local site ${site_dir} is not the project root ${source_dir}")
      endif()
    endif()
  endif()
endforeach()

# Documents (DOCS) also show build commands, some for third-party projects (-DPAHO_WITH_SSL=ON): only the
# project's own EC_* names are checked there, and a document must still show at least one.
string(REPLACE "|" ";" DOCS "${DOCS}")
foreach(doc IN LISTS DOCS)
  if(NOT EXISTS "${doc}")
    list(APPEND problems "${doc}: document not found")
    continue()
  endif()
  file(READ "${doc}" text)
  string(REGEX MATCHALL "-DEC_[A-Za-z0-9_]*=" defines "${text}")
  if(NOT defines)
    list(APPEND problems "${doc}: shows no -DEC_<NAME>= option at all (nothing to check: wrong file?)")
  endif()
  foreach(d IN LISTS defines)
    string(REGEX REPLACE "^-D(.*)=$" "\\1" n "${d}")
    list(FIND declared "${n}" at)
    if(at EQUAL -1)
      list(APPEND problems "${doc}: option -D${n} is not declared by the project's CMake files")
    endif()
  endforeach()
endforeach()

if(problems)
  list(JOIN problems "\n  " report)
  message(FATAL_ERROR "recipe check failed:\n  ${report}")
endif()
list(LENGTH RECIPES recipe_count)
list(LENGTH DOCS doc_count)
message(STATUS "recipe check: ${recipe_count} recipe(s) and ${doc_count} document(s) pass only declared options"
               " and existing source paths")
