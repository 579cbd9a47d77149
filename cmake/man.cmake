# man.cmake - one man page from a program's --help and --version (help2man).
#
#   cmake -DHELP2MAN=... -DPROGRAM=path -DNAME=ratusz -DSECTION=1
#         "-DWHAT=one line" -DOUT=man/ratusz.1.gz -P man.cmake
#
# For `ratusz` the page also gets a COMMANDS section: the --help of every
# command its own --help lists (the lines under "Commands:"), without the
# global options each of them repeats. A new command is on the page at the
# next build.
foreach(v HELP2MAN PROGRAM NAME SECTION WHAT OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "man.cmake: ${v} is not set")
  endif()
endforeach()

get_filename_component(dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${dir})
set(include_args)
set(inc ${OUT}.h2m)
file(WRITE ${inc} "[SEE ALSO]\n.BR ratusz (1),\n.BR ratuszd (8),\n"
  ".BR ratusz-adapter (1),\n.BR ratusz-kafka (1);\n"
  "README.md and docs/ in /usr/share/doc/ratusz.\n")

# roff text shown as it is: backslashes escaped, no line read as a request
function(s_roff_verbatim text out)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

if(NAME STREQUAL "ratusz")
  execute_process(COMMAND ${PROGRAM} --help OUTPUT_VARIABLE help
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "man.cmake: ${PROGRAM} --help exited with ${rc}")
  endif()
  string(REGEX MATCH "\nCommands:\n(  [a-z][^\n]*\n)+" block "${help}")
  string(REGEX MATCHALL "\n  [a-z][a-z0-9-]*" cmds "${block}")
  if(NOT cmds)
    message(FATAL_ERROR "man.cmake: no commands in ${PROGRAM} --help")
  endif()
  file(APPEND ${inc} "[COMMANDS]\n")
  foreach(c ${cmds})
    string(STRIP "${c}" c)
    execute_process(COMMAND ${PROGRAM} ${c} --help OUTPUT_VARIABLE text
      RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "man.cmake: ${PROGRAM} ${c} --help exited with ${rc}")
    endif()
    string(FIND "${text}" "\nGlobal options" cut)
    if(cut GREATER 0)
      string(SUBSTRING "${text}" 0 ${cut} text)
    endif()
    string(STRIP "${text}" text)
    s_roff_verbatim("${text}" text)
    file(APPEND ${inc} ".SS \"ratusz ${c}\"\n.nf\n${text}\n.fi\n")
  endforeach()
endif()

execute_process(
  COMMAND ${HELP2MAN} --no-info --section=${SECTION} --name=${WHAT}
          --include=${inc} --output=${OUT}.tmp ${PROGRAM}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "man.cmake: help2man ${PROGRAM} exited with ${rc}")
endif()
# gzip -n: compressed as Debian ships man pages, with no time stamp inside
file(REMOVE ${OUT}.gz)
execute_process(COMMAND gzip -9n ${OUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "man.cmake: gzip ${OUT}.tmp exited with ${rc}")
endif()
file(RENAME ${OUT}.tmp.gz ${OUT})
