// The streamed PDQ blur for sse2; the compiler flags for this file (see
// CMakeLists.txt) choose the vector width. Same source as every other kernel.
#define PDQ_BLUR_FUNCTION BlurDecimateSse2
#include "pdq_blur.inc"
