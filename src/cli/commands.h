/* The subcommands of `tinyllm`; each lives in src/cli/cmd_<name>.c and returns the exit code. */
#ifndef TL_CLI_COMMANDS_H
#define TL_CLI_COMMANDS_H

int tl_cmd_tokenizer(int argc, char **argv);
int tl_cmd_prepare(int argc, char **argv);
int tl_cmd_pretrain(int argc, char **argv);
int tl_cmd_finetune(int argc, char **argv);
int tl_cmd_eval(int argc, char **argv);
int tl_cmd_synth(int argc, char **argv);
int tl_cmd_clean(int argc, char **argv);
int tl_cmd_export(int argc, char **argv);
int tl_cmd_import(int argc, char **argv);
int tl_cmd_quantize(int argc, char **argv);
int tl_cmd_run(int argc, char **argv);
int tl_cmd_classify(int argc, char **argv);
int tl_cmd_bench(int argc, char **argv);
int tl_cmd_serve(int argc, char **argv);
int tl_cmd_demo(int argc, char **argv);

#endif
