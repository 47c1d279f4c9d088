#!/usr/bin/env bash
# Posts fpgactl ci's Markdown summary on the merge request / pull request of this CI job.
#   scripts/post-summary.sh gitlab reports/ci.md   needs FPGACTL_GITLAB_TOKEN (api scope) and a
#                                                  merge-request pipeline; otherwise does nothing
#   scripts/post-summary.sh github reports/ci.md   needs GH_TOKEN, PR_NUMBER and GITHUB_REPOSITORY
# A missing summary (the job died before fpgactl ci wrote it) or token is reported, never fatal:
# the job's own status already says whether it passed. The token is never printed.
set -uo pipefail
kind=$1 summary=$2
if [[ ! -s $summary ]]; then
  echo "post-summary: no summary at $summary (did fpgactl ci run?)"
  exit 0
fi
case $kind in
  gitlab)
    if [[ -z ${CI_MERGE_REQUEST_IID:-} || -z ${FPGACTL_GITLAB_TOKEN:-} ]]; then
      echo "post-summary: not a merge-request pipeline or FPGACTL_GITLAB_TOKEN unset; summary not posted"
      exit 0
    fi
    curl --silent --show-error --fail --output /dev/null \
      --header "PRIVATE-TOKEN: ${FPGACTL_GITLAB_TOKEN}" \
      --data-urlencode "body@${summary}" \
      "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/merge_requests/${CI_MERGE_REQUEST_IID}/notes" \
      && echo "post-summary: posted on merge request !${CI_MERGE_REQUEST_IID}" \
      || echo "post-summary: posting the note failed"
    ;;
  github)
    if [[ -z ${PR_NUMBER:-} || -z ${GH_TOKEN:-} || -z ${GITHUB_REPOSITORY:-} ]]; then
      echo "post-summary: PR_NUMBER, GH_TOKEN or GITHUB_REPOSITORY unset; summary not posted"
      exit 0
    fi
    python3 -c 'import json, sys; print(json.dumps({"body": open(sys.argv[1]).read()}))' "$summary" |
      curl --silent --show-error --fail --output /dev/null \
        --header "Authorization: Bearer ${GH_TOKEN}" --header "Accept: application/vnd.github+json" \
        --data @- "${GITHUB_API_URL:-https://api.github.com}/repos/${GITHUB_REPOSITORY}/issues/${PR_NUMBER}/comments" \
      && echo "post-summary: commented on pull request #${PR_NUMBER}" \
      || echo "post-summary: commenting failed"
    ;;
  *)
    echo "usage: post-summary.sh gitlab|github SUMMARY.md" >&2
    exit 2
    ;;
esac
