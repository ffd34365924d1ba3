/* placeholder: replaced by the stage's implementation */
#include "tokenizer/bpe.h"
