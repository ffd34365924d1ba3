/* placeholder: replaced by the stage's implementation */
#include "data/shard.h"
