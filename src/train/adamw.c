/* placeholder: replaced by the stage's implementation */
#include "train/adamw.h"
