/* The error value of tinyllm's C API: a function that can fail takes a `tl_err *` last and returns
 * 0 or -1 (or NULL); on failure `msg` holds one line naming the file or field and the problem. */
#ifndef TINYLLM_ERR_H
#define TINYLLM_ERR_H

typedef struct tl_err {
    char msg[768];
} tl_err;

#endif
