/* The one configuration, filled by main before any thread starts. */
#include "web.h"

Config config;
