/*
 * connectd's version: in --version, the Proxy-Agent field and the error
 * responses.  One place, so a release changes one line.
 */
#ifndef CONNECTD_VERSION_H
#define CONNECTD_VERSION_H

#define CONNECTD_VERSION "0.1.0"

#endif
