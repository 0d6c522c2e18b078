#!/usr/bin/python3
# The benchmark's stand-in for builds.sr.ht's buildsrht-keys as it was from 2020, when it
# started asking meta.sr.ht whose key is offered (so that sshd can go on to the next key):
# read config.ini, GET <meta>/api/ssh-key/<key> with requests, print nothing for an unknown
# key, else the authorized_keys line naming the owner. srht.config (which also imports the
# rest of the srht package) is replaced by configparser, so this starts faster than the
# real one did: the ratio against it is a lower bound.
#
#   buildsrht_keys_2020.py CONFIG USER HOME KEYTYPE B64KEY
import configparser
import os
import sys

try:
    import requests
except ImportError:  # a machine without python3-requests: the standard library's client
    requests = None
    import json
    import urllib.error
    import urllib.request

config_file, user, home, key_type, b64key = sys.argv[1:6]
cfg = configparser.ConfigParser(interpolation=None)
cfg.read(config_file)

if user != cfg.get("jobssh", "user", fallback="builds"):
    path = os.path.join(home, ".ssh", "authorized_keys")
    if os.path.exists(path):
        with open(path) as f:
            sys.stdout.write(f.read())
    sys.exit(0)

meta = cfg.get("meta.sr.ht", "internal-origin",
               fallback=cfg.get("meta.sr.ht", "origin", fallback="http://localhost"))
url = f"{meta}/api/ssh-key/{b64key}"
if requests is not None:
    r = requests.get(url)
    if r.status_code != 200:
        sys.exit(0)
    owner = r.json()["owner"]["name"]
else:
    try:
        with urllib.request.urlopen(url) as r:
            owner = json.load(r)["owner"]["name"]
    except urllib.error.HTTPError:
        sys.exit(0)

default_shell = os.path.join(os.path.dirname(sys.argv[0]), "buildsrht-shell")
shell = cfg.get("jobssh", "shell", fallback=default_shell)
print(f"restrict,pty,command=\"{shell} --owner {owner} '{b64key}'\" "
      f"{key_type} {b64key} somebody")
