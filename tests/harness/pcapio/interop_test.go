// Interop with gopacket's pcapgo: captures it writes (pcap and pcapng) read back
// here, and what this package writes reads back there.

package pcapio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func TestReadPcapngFromNgWriter(t *testing.T) {
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	want := []Frame{
		{Data: frame(60, 1), TimeNS: 1_700_000_000_123_456_789, OrigLen: 60},
		{Data: frame(64, 2), TimeNS: 1_700_000_001_000_000_001, OrigLen: 1514},
	}
	for _, f := range want {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, int64(f.TimeNS)), CaptureLength: len(f.Data), Length: f.OrigLen}
		if err := w.WritePacket(ci, f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, "ng.pcapng", b.Bytes()); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestPcapngWrongLinkTypeFromNgWriter(t *testing.T) {
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "raw.pcapng")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadFile(path, ReadOptions{})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Record != 1 || fe.Path != path {
		t.Fatalf("err %v, want a *FileError for record 1 of %s", err, path)
	}
}

func TestPcapgoReadsWhatWeWrite(t *testing.T) {
	frames := []Frame{{Data: frame(60, 1), TimeNS: 1_700_000_000_123_456_789, OrigLen: 100}}
	var b bytes.Buffer
	if err := Write(&b, frames); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	data, ci, err := r.ReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet || !bytes.Equal(data, frames[0].Data) ||
		uint64(ci.Timestamp.UnixNano()) != frames[0].TimeNS || ci.Length != 100 {
		t.Fatalf("pcapgo read %v %+v", r.LinkType(), ci)
	}
}
