/* safetensors: round trip, files written by Python's json/struct (by the spec, independently) read
 * back, and a table of hand-made malformed files each rejected with a message naming the problem;
 * a failed write leaves no file behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "formats/safetensors.h"

static void write_st(const char *path, const char *header, size_t data_bytes) {
    FILE *f = fopen(path, "wb");
    uint64_t n = strlen(header);
    for (int i = 0; i < 8; i++) fputc((int)(n >> (8 * i)) & 0xff, f);
    fputs(header, f);
    for (size_t i = 0; i < data_bytes; i++) fputc((int)i, f);
    fclose(f);
}

int main(void) {
    tl_err e;
    tl_st_file f;
    /* round trip */
    float a[6] = {1, 2, 3, 4, 5, 6};
    int32_t b[3] = {-1, 0, 7};
    tl_st_tensor ts[2] = {{.name = "a.w", .dtype = TL_ST_F32, .ndim = 2, .shape = {2, 3}, .data = a, .nbytes = 24},
                          {.name = "ids", .dtype = TL_ST_I32, .ndim = 1, .shape = {3}, .data = b, .nbytes = 12}};
    const char *mk[] = {"step", "note"}, *mv[] = {"42", "quote \" and \\ and \xc3\xa9"};
    CHECK(tl_st_write("t_rt.safetensors", ts, 2, mk, mv, 2, &e) == 0, "%s", e.msg);
    CHECK(tl_st_open(&f, "t_rt.safetensors", &e) == 0, "%s", e.msg);
    const tl_st_tensor *t = tl_st_find(&f, "a.w");
    CHECK(t && t->dtype == TL_ST_F32 && t->ndim == 2 && t->shape[1] == 3 && !memcmp(t->data, a, 24), "a.w round trip");
    CHECK(((uintptr_t)t->data & 7) == 0, "data is 8-byte aligned");
    t = tl_st_find(&f, "ids");
    CHECK(t && t->dtype == TL_ST_I32 && !memcmp(t->data, b, 12), "ids round trip");
    CHECK(tl_st_meta(&f, "step") && !strcmp(tl_st_meta(&f, "step"), "42"), "metadata");
    CHECK(tl_st_meta(&f, "note") && !strcmp(tl_st_meta(&f, "note"), mv[1]), "escaped metadata");
    tl_st_close(&f);

    /* a failed write leaves nothing */
    CHECK(tl_st_write("no_such_dir/x.safetensors", ts, 2, NULL, NULL, 0, &e) == -1 && strstr(e.msg, "no_such_dir"),
          "write into a missing directory: %s", e.msg);
    tl_st_tensor wrong = ts[0];
    wrong.nbytes = 20;
    CHECK(tl_st_write("t_wrong.safetensors", &wrong, 1, NULL, NULL, 0, &e) == -1 && access("t_wrong.safetensors", F_OK) != 0,
          "size mismatch must fail without a file: %s", e.msg);

    static const struct {
        const char *what, *header;
        size_t data;
        const char *expect;
    } bad[] = {
        {"empty header", "", 0, "not valid JSON"},
        {"not JSON", "{\"a\": ", 0, "not valid JSON"},
        {"array header", "[1]", 0, "not a JSON object"},
        {"duplicate key", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "not valid JSON"},
        {"unknown dtype", "{\"a\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "unsupported dtype"},
        {"missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "missing array 'shape'"},
        {"offsets not a pair", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "array of 2 integers"},
        {"negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "non-negative"},
        {"too many dims", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, "dimensions"},
        {"size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12, "do not match"},
        {"overflowing shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,8],\"data_offsets\":[0,4]}}", 4, "do not match"},
        {"begin after end", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, "begin"},
        {"past the data", "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 4, "past the data"},
        {"overlap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 6, "overlaps"},
        {"hole", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}", 6, "does not start"},
        {"trailing bytes", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 5, "after the last tensor"},
        {"metadata not strings", "{\"__metadata__\":{\"k\":1}}", 0, "is not a string"},
        {"empty name", "{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "empty name"},
        {"entry not an object", "{\"a\":5}", 0, "not an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_st("t_bad.safetensors", bad[i].header, bad[i].data);
        int rc = tl_st_open(&f, "t_bad.safetensors", &e);
        CHECK(rc == -1 && strstr(e.msg, bad[i].expect) && strstr(e.msg, "t_bad.safetensors"), "%s: got '%s'",
              bad[i].what, rc ? e.msg : "success");
        if (!rc) tl_st_close(&f);
    }
    /* header length beyond the file, and files too short to hold one */
    FILE *g = fopen("t_bad.safetensors", "wb");
    fwrite("\xff\xff\x00\x00\x00\x00\x00\x00{}", 1, 10, g);
    fclose(g);
    CHECK(tl_st_open(&f, "t_bad.safetensors", &e) == -1 && strstr(e.msg, "exceeds the file"), "%s", e.msg);
    g = fopen("t_bad.safetensors", "wb");
    fwrite("\x02\x00", 1, 2, g);
    fclose(g);
    CHECK(tl_st_open(&f, "t_bad.safetensors", &e) == -1 && strstr(e.msg, "not a safetensors file"), "%s", e.msg);
    CHECK(tl_st_open(&f, "t_missing.safetensors", &e) == -1 && strstr(e.msg, "cannot open"), "%s", e.msg);
    unlink("t_bad.safetensors");
    unlink("t_rt.safetensors");

    /* written by Python from the spec */
    char cmd[4200];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,struct\n"
             "h=json.dumps({\"__metadata__\":{\"by\":\"python\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"y\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]}}).encode()\n"
             "open(\"t_py.safetensors\",\"wb\").write(struct.pack(\"<Q\",len(h))+h+struct.pack(\"<2fq\",1.5,-2.25,-7))'");
    CHECK(system(cmd) == 0, "python writer");
    CHECK(tl_st_open(&f, "t_py.safetensors", &e) == 0, "python-written file: %s", e.msg);
    if (f.n_tensors == 2) {
        float x[2]; /* Python's file is not aligned: copy out */
        int64_t y[1];
        memcpy(x, tl_st_find(&f, "x")->data, sizeof x);
        memcpy(y, tl_st_find(&f, "y")->data, sizeof y);
        CHECK(x[0] == 1.5f && x[1] == -2.25f && y[0] == -7 && !strcmp(tl_st_meta(&f, "by"), "python"), "python values");
        tl_st_close(&f);
    }
    /* and Python reads ours by the spec: header length a multiple of 8, values in place */
    CHECK(tl_st_write("t_ours.safetensors", ts, 2, mk, mv, 2, &e) == 0, "%s", e.msg);
    CHECK(system("python3 -c 'import json,struct\n"
                 "b=open(\"t_ours.safetensors\",\"rb\").read(); n=struct.unpack(\"<Q\",b[:8])[0]; h=json.loads(b[8:8+n])\n"
                 "assert n%8==0; o=h[\"a.w\"][\"data_offsets\"]; d=b[8+n:]\n"
                 "assert struct.unpack(\"<6f\",d[o[0]:o[1]])==(1,2,3,4,5,6) and h[\"__metadata__\"][\"step\"]==\"42\"\n"
                 "o=h[\"ids\"][\"data_offsets\"]; assert struct.unpack(\"<3i\",d[o[0]:o[1]])==(-1,0,7)'") == 0,
          "python could not read our file by the spec");
    unlink("t_py.safetensors");
    unlink("t_ours.safetensors");
    CHECK_DONE();
}
