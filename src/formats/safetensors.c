/* placeholder: replaced by the stage's implementation */
#include "formats/safetensors.h"
