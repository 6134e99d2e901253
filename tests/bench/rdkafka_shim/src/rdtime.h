/* See rd.h: the example includes both. */
#include "rd.h"
