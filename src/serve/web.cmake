# The web page of `tinyllm serve`: the files of web/ become byte arrays in tl_serve at build time
# (embed.cmake), so the binary serves them with nothing to install; index.html must stay first (/).
set(tl_web_files "index.html,app.js,style.css,favicon.svg")
set(tl_web_deps ${CMAKE_SOURCE_DIR}/web/index.html ${CMAKE_SOURCE_DIR}/web/app.js ${CMAKE_SOURCE_DIR}/web/style.css
                ${CMAKE_SOURCE_DIR}/web/favicon.svg)
set(tl_web_c ${CMAKE_BINARY_DIR}/generated/web_assets.c)
add_custom_command(OUTPUT ${tl_web_c}
                   COMMAND ${CMAKE_COMMAND} -DOUT=${tl_web_c} -DDIR=${CMAKE_SOURCE_DIR}/web "-DFILES=${tl_web_files}"
                           -P ${CMAKE_CURRENT_LIST_DIR}/embed.cmake
                   DEPENDS ${tl_web_deps} ${CMAKE_CURRENT_LIST_DIR}/embed.cmake
                   COMMENT "Embedding web/ in tl_serve" VERBATIM)
target_sources(tl_serve PRIVATE ${tl_web_c})
