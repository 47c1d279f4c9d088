package server

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/fpgactl/fpgactl/labctl/api"
)

// PageRefresh is the web page's auto-refresh interval.
const PageRefresh = 10 * time.Second

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"whenp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"in": func(now, t time.Time) string {
		d := t.Sub(now).Round(time.Second)
		if d <= 0 {
			return "now"
		}
		return "in " + d.String()
	},
	"join": strings.Join,
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"want": func(r api.Reservation) string {
		if r.Tag != "" {
			return "tag " + r.Tag
		}
		return r.Board
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{{.Refresh}}">
<title>fpgactl lab: {{len .Boards}} boards</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.free { color: #2a7a2a; } .held { color: #a05a00; } .passed { color: #2a7a2a; } .failed { color: #b00020; }
.removed { color: #888; } small { color: #666; }
td.name, td.expires, td.holder { white-space: nowrap; }
</style>
</head>
<body>
<h1>Lab boards</h1>
<p><small>As of {{when .Now}} · refreshes every {{.Refresh}} s · {{.Held}} of {{len .Boards}} boards held, {{len .Queue}} waiting</small></p>
<table id="boards">
<thead><tr><th>Board</th><th>Part</th><th>Speed</th><th>Lab host</th><th>Tags</th><th>Holder</th><th>Comment</th><th>Lease expires</th><th>Queue</th><th>Last test</th></tr></thead>
<tbody>
{{range .Boards}}<tr id="board-{{.Name}}" class="board">
<td class="name">{{.Name}}{{if .Removed}} <span class="removed">(removed from inventory)</span>{{end}}</td>
<td class="part">{{.Part}}</td>
<td class="speed">{{.Speed}}</td>
<td class="lab-host">{{.LabHost}}</td>
<td class="tags">{{join .Tags ", "}}</td>
{{with .Holder}}<td class="holder held">{{.User}} <small>(#{{.Reservation}})</small></td>
<td class="comment">{{.Comment}}</td>
<td class="expires"><time datetime="{{.ExpiresAt.Format "2006-01-02T15:04:05Z07:00"}}">{{when .ExpiresAt}}</time> <small>({{in $.Now .ExpiresAt}})</small></td>
{{else}}<td class="holder free">free</td><td class="comment"></td><td class="expires"></td>
{{end}}<td class="queue">{{.Queue}}</td>
{{with .LastTest}}<td class="last-test {{if .Passed}}passed{{else}}failed{{end}}">{{if .Passed}}PASSED{{else}}FAILED{{end}}: {{.Summary}} <small>({{.Frames}} frames, {{.Mismatches}} mismatches; {{.User}}, {{when .FinishedAt}}{{if .BitstreamSHA256}}, bitstream {{short .BitstreamSHA256}}{{end}})</small></td>
{{else}}<td class="last-test">none yet</td>
{{end}}</tr>
{{end}}</tbody>
</table>

<h2>Queue</h2>
{{if .Queue}}<table id="queue">
<thead><tr><th>Position</th><th>Reservation</th><th>User</th><th>Wants</th><th>Priority</th><th>Waiting since</th><th>Comment</th></tr></thead>
<tbody>
{{range .Queue}}<tr class="waiter"><td>{{.Position}}</td><td>#{{.ID}}</td><td>{{.User}}</td><td>{{want .}}</td><td>{{.Priority}}</td><td>{{when .CreatedAt}}</td><td>{{.Comment}}</td></tr>
{{end}}</tbody>
</table>
{{else}}<p id="queue">Nobody is waiting.</p>
{{end}}
<h2>Recent events</h2>
<table id="audit">
<thead><tr><th>Time</th><th>Action</th><th>User</th><th>Board</th><th>Reservation</th><th>Detail</th></tr></thead>
<tbody>
{{range .Audit}}<tr class="event"><td>{{when .At}}</td><td>{{.Action}}</td><td>{{.User}}</td><td>{{.Board}}</td><td>{{if .Reservation}}#{{.Reservation}}{{end}}</td><td>{{.Detail}}</td></tr>
{{end}}</tbody>
</table>
<p><small>API: <code>/api/v1/boards</code> (bearer token) · reserve with <code>fpgactl lab reserve --board NAME</code></small></p>
</body>
</html>
`))

type pageData struct {
	Now     time.Time
	Refresh int
	Boards  []api.Board
	Held    int
	Queue   []api.Reservation
	Audit   []api.AuditEvent
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := pageData{Now: time.Now().UTC(), Refresh: int(PageRefresh / time.Second)}
	var err error
	if d.Boards, err = s.st.Boards(ctx); err == nil {
		if d.Queue, err = s.st.Queue(ctx); err == nil {
			d.Audit, err = s.st.Audit(ctx, "", 30)
		}
	}
	if err != nil {
		s.log.Error("web page", "err", err)
		http.Error(w, fmt.Sprintf("lab service: %v", err), http.StatusInternalServerError)
		return
	}
	for _, b := range d.Boards {
		if b.Holder != nil {
			d.Held++
		}
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
