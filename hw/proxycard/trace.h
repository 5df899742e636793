#include "trace/trace-hw_proxycard.h"
