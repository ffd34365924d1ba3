/* Prompts from requests: the model's task template around a classify input, and chat messages
 * mapped onto that template (contracts in internal.h; the mapping is documented in docs/serve.md). */
#include <stdio.h>
#include <string.h>

#include "serve/internal.h"

#define MAX_MESSAGES 256

int tl_prompt_task(const struct tl_serve *s, const char *instruction, const char *input, tl_buf *out, tl_apierr *a) {
    const tl_model_info *in = s->info;
    if (!in->task_name)
        return TL_BAD(a, "no_prompt_template", NULL,
                      "the model carries no prompt template (export it with 'tinyllm export --task'); use /v1/completions with a whole prompt");
    if (!instruction) instruction = in->task_instruction;
    if (!instruction)
        return TL_BAD(a, "missing_instruction", NULL,
                      "the model's task '%s' takes its instruction from its data: send it (a system message in chat, 'instruction' in classify)",
                      in->task_name);
    tl_err e;
    if (tl_task_prompt(&s->render, instruction, strlen(instruction), input, strlen(input), out, &e))
        return tl_apierr_set(a, 500, "server_error", "internal_error", NULL, "%s", e.msg);
    return 0;
}

/* A message's text: a string, or an array of {"type": "text", "text": ...} parts (concatenated). */
static int content_text(json_t *m, const char *where, tl_buf *out, tl_apierr *a) {
    json_t *c = json_object_get(m, "content");
    char p[96];
    snprintf(p, sizeof p, "%s.content", where);
    tl_err e;
    if (json_is_string(c)) {
        if (tl_buf_append(out, json_string_value(c), json_string_length(c), &e)) goto oom;
        return 0;
    }
    if (!json_is_array(c)) return TL_BAD(a, c ? "invalid_type" : "missing_required_parameter", p, "'%s' must be a string or an array of text parts", p);
    size_t i;
    json_t *part;
    json_array_foreach(c, i, part) {
        json_t *t = json_object_get(part, "type"), *txt = json_object_get(part, "text");
        if (!json_is_object(part) || !json_is_string(t) || strcmp(json_string_value(t), "text") || !json_is_string(txt) ||
            json_object_size(part) != 2)
            return TL_BAD(a, "unsupported_value", p, "'%s[%zu]': only {\"type\": \"text\", \"text\": ...} parts are supported", p, i);
        if (tl_buf_append(out, json_string_value(txt), json_string_length(txt), &e)) goto oom;
    }
    return 0;
oom:
    return tl_apierr_set(a, 500, "server_error", "out_of_memory", NULL, "out of memory");
}

int tl_prompt_chat(const struct tl_serve *s, json_t *messages, tl_buf *out, tl_apierr *a) {
    if (!messages) return TL_BAD(a, "missing_required_parameter", "messages", "'messages' is required");
    if (!json_is_array(messages) || !json_array_size(messages))
        return TL_BAD(a, "invalid_type", "messages", "'messages' must be a non-empty array of {\"role\", \"content\"} objects");
    size_t n = json_array_size(messages);
    if (n > MAX_MESSAGES) return TL_BAD(a, "out_of_range", "messages", "at most %d messages", MAX_MESSAGES);
    tl_buf instr = {0}, turn[2] = {{0}, {0}}; /* turn[0]: the user text waiting for its answer */
    tl_err e;
    int rc = -1, have_instr = 0, want_user = 1;
    static const char *const keys[] = {"role", "content", NULL};
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i), *role = json_object_get(m, "role");
        char where[48];
        snprintf(where, sizeof where, "messages[%zu]", i);
        if (!json_is_object(m)) {
            TL_BAD(a, "invalid_type", where, "'%s' must be an object with 'role' and 'content'", where);
            goto done;
        }
        if (tl_params_keys(m, keys, a)) {
            char k[160];
            snprintf(k, sizeof k, "%s.%.64s", where, a->param);
            TL_BAD(a, "unknown_parameter", k, "unknown parameter '%s' (messages take 'role' and 'content')", k);
            goto done;
        }
        if (!json_is_string(role)) {
            char p[64];
            snprintf(p, sizeof p, "%s.role", where);
            TL_BAD(a, role ? "invalid_type" : "missing_required_parameter", p, "'%s' must be \"system\", \"user\" or \"assistant\"", p);
            goto done;
        }
        const char *r = json_string_value(role);
        int sys = !strcmp(r, "system") || !strcmp(r, "developer");
        if (sys) {
            if (i != (size_t)have_instr) {
                TL_BAD(a, "invalid_value", where, "'%s': system messages must come before the conversation", where);
                goto done;
            }
            if (have_instr && tl_buf_append(&instr, "\n\n", 2, &e)) goto oom;
            if (content_text(m, where, &instr, a)) goto done;
            have_instr++;
            continue;
        }
        if (strcmp(r, "user") && strcmp(r, "assistant")) {
            TL_BAD(a, "unsupported_value", where, "'%s': role '%.32s' is not supported (system, user, assistant)", where, r);
            goto done;
        }
        int user = !strcmp(r, "user");
        if (user != want_user) {
            TL_BAD(a, "invalid_value", where, "'%s': after the system messages, user and assistant messages must alternate, starting with user",
                   where);
            goto done;
        }
        tl_buf *t = &turn[user ? 0 : 1];
        t->n = 0;
        if (content_text(m, where, t, a) || tl_buf_append(t, "", 1, &e)) goto done;
        if (!user) { /* a finished exchange: a whole example of the template */
            if (tl_buf_append(&instr, "", 1, &e)) goto oom;
            instr.n--;
            if (tl_prompt_task(s, have_instr ? instr.p : NULL, turn[0].p, out, a)) goto done;
            if (tl_task_response(turn[1].p, turn[1].n - 1, out, &e) || tl_buf_append(out, "\n\n", 2, &e)) goto oom;
            turn[0].n = 0;
        }
        want_user = !user;
    }
    if (want_user) {
        TL_BAD(a, "invalid_value", "messages", "the last message must be from the user");
        goto done;
    }
    if (tl_buf_append(&instr, "", 1, &e)) goto oom;
    if (tl_prompt_task(s, have_instr ? instr.p : NULL, turn[0].p, out, a)) goto done;
    if (tl_buf_append(out, "", 1, &e)) goto oom;
    out->n--; /* NUL-terminated, the NUL not counted */
    rc = 0;
    goto done;
oom:
    tl_apierr_set(a, 500, "server_error", "out_of_memory", NULL, "out of memory");
done:
    tl_buf_free(&instr);
    tl_buf_free(&turn[0]);
    tl_buf_free(&turn[1]);
    return rc;
}
