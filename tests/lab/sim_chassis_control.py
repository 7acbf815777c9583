#!/usr/bin/python3 -S
"""ipmi_sim's ``chassis_control`` program for ipmi_sim_bmc.py.

ipmi_sim runs ``sim_chassis_control.py SOCKET get power``, ``... set boot
"pxe"`` and so on (through popen, one process per chassis command,
lanserv/extcmd.c) and reads ``name:value`` lines back; a non-zero exit
makes it answer the IPMI command with an error.  This program only
forwards the words to the BMC's chassis thread (sim_chassis.py) over the
unix socket SOCKET and prints its reply.  Single-threaded, short-lived.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import sim_chassis                                      # noqa: E402


def main(argv):
    if len(argv) < 3:
        sys.stderr.write('usage: sim_chassis_control.py SOCKET get|set '
                         'NAME [VALUE]...\n')
        return 2
    try:
        ok, text = sim_chassis.call(argv[1], *argv[2:])
    except OSError as e:
        sys.stderr.write('chassis: %s\n' % e)
        return 1
    (sys.stdout if ok else sys.stderr).write(text)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
