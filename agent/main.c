/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

int main(int argc, char *argv[]) {
        log_info("nodeagent " NODEAGENT_VERSION);
        return 0;
}
