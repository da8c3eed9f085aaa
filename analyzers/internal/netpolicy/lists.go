package netpolicy

// Entry is one default list entry: an import path pattern and why it is there.
type Entry struct {
	Pattern string
	Reason  string
}

// DefaultDeny lists the packages that can open network connections (or exist
// to talk to a remote service). A pattern ending in "/..." covers the package
// and every package below it.
var DefaultDeny = []Entry{
	// Standard library.
	{"net", "sockets, DNS and dialing"},
	{"net/...", "network protocols of the standard library"},
	{"net/http/...", "HTTP clients and servers"},
	{"net/rpc/...", "RPC over network connections"},
	{"net/smtp", "SMTP client"},
	{"net/textproto", "text protocol client (Dial)"},
	{"crypto/tls/...", "TLS connections (Dial, Listen)"},
	{"log/syslog", "dials a syslog daemon, possibly remote"},
	{"expvar", "publishes variables over HTTP"},

	// golang.org/x extensions of the above.
	{"golang.org/x/net/...", "network protocols (http2, websocket, proxy, ...)"},
	{"golang.org/x/crypto/ssh/...", "SSH client and server"},
	{"golang.org/x/crypto/acme/...", "ACME client (talks to certificate authorities)"},
	{"golang.org/x/oauth2/...", "OAuth2 token fetching over HTTP"},

	// RPC frameworks and protocol stacks.
	{"google.golang.org/grpc/...", "gRPC client and server"},
	{"google.golang.org/api/...", "Google API clients"},
	{"github.com/quic-go/quic-go/...", "QUIC and HTTP/3"},
	{"github.com/miekg/dns/...", "DNS client and server"},
	{"github.com/gorilla/websocket/...", "WebSocket client and server"},
	{"nhooyr.io/websocket/...", "WebSocket client and server"},
	{"github.com/coder/websocket/...", "WebSocket client and server"},
	{"github.com/libp2p/go-libp2p/...", "peer-to-peer networking"},
	{"github.com/godbus/dbus/...", "D-Bus client (message bus, also over TCP)"},

	// HTTP clients and servers.
	{"github.com/valyala/fasthttp/...", "HTTP client and server"},
	{"github.com/go-resty/resty/...", "HTTP client"},
	{"resty.dev/...", "HTTP client"},
	{"github.com/hashicorp/go-retryablehttp/...", "HTTP client"},
	{"github.com/imroc/req/...", "HTTP client"},
	{"github.com/gin-gonic/gin/...", "HTTP server framework"},
	{"github.com/labstack/echo/...", "HTTP server framework"},
	{"github.com/gofiber/fiber/...", "HTTP server framework"},
	{"github.com/go-chi/chi/...", "HTTP router"},
	{"github.com/gorilla/mux/...", "HTTP router"},

	// File transfer and remote shells.
	{"github.com/pkg/sftp/...", "SFTP client"},
	{"github.com/jlaffaye/ftp/...", "FTP client"},

	// Cloud, cluster and service SDKs.
	{"github.com/aws/aws-sdk-go/...", "AWS API client"},
	{"github.com/aws/aws-sdk-go-v2/...", "AWS API client"},
	{"cloud.google.com/go/...", "Google Cloud API clients"},
	{"github.com/Azure/azure-sdk-for-go/...", "Azure API clients"},
	{"k8s.io/client-go/...", "Kubernetes API client"},
	{"github.com/docker/docker/client/...", "Docker Engine API client"},
	{"github.com/moby/moby/client/...", "Docker Engine API client"},
	{"github.com/hashicorp/consul/api/...", "Consul API client"},
	{"github.com/hashicorp/vault/api/...", "Vault API client"},
	{"go.etcd.io/etcd/client/...", "etcd client"},
	{"github.com/google/go-github/...", "GitHub API client"},
	{"github.com/slack-go/slack/...", "Slack API client"},
	{"github.com/minio/minio-go/...", "S3 client"},

	// Databases and message brokers (network drivers).
	{"github.com/lib/pq/...", "PostgreSQL driver"},
	{"github.com/jackc/pgx/...", "PostgreSQL driver"},
	{"github.com/go-sql-driver/mysql/...", "MySQL driver"},
	{"go.mongodb.org/mongo-driver/...", "MongoDB driver"},
	{"github.com/redis/go-redis/...", "Redis client"},
	{"github.com/go-redis/redis/...", "Redis client"},
	{"github.com/gomodule/redigo/...", "Redis client"},
	{"github.com/nats-io/nats.go/...", "NATS client"},
	{"github.com/segmentio/kafka-go/...", "Kafka client"},
	{"github.com/IBM/sarama/...", "Kafka client"},
	{"github.com/Shopify/sarama/...", "Kafka client"},
	{"github.com/rabbitmq/amqp091-go/...", "AMQP client"},
	{"github.com/streadway/amqp/...", "AMQP client"},
	{"github.com/eclipse/paho.mqtt.golang/...", "MQTT client"},

	// Telemetry that exports over the network.
	{"go.opentelemetry.io/otel/exporters/otlp/...", "OTLP exporters (gRPC/HTTP)"},
	{"go.opentelemetry.io/otel/exporters/zipkin/...", "Zipkin exporter (HTTP)"},
	{"go.opentelemetry.io/contrib/instrumentation/net/http/...", "HTTP instrumentation"},
	{"github.com/prometheus/client_golang/prometheus/promhttp/...", "serves metrics over HTTP"},
	{"github.com/prometheus/client_golang/prometheus/push/...", "pushes metrics over HTTP"},
	{"github.com/prometheus/client_golang/api/...", "Prometheus HTTP API client"},
	{"github.com/getsentry/sentry-go/...", "sends events over HTTP"},
}

// DefaultAllow lists packages below a denied pattern that only parse or
// represent data and cannot open a connection. Allowed packages of the
// standard library are not looked into by the transitive mode either; other
// allowed packages still are.
var DefaultAllow = []Entry{
	{"net/url", "URL parsing only"},
	{"net/netip", "IP address values only"},
	{"net/mail", "mail address and header parsing only"},
	{"golang.org/x/net/html/...", "HTML parser only"},
	{"golang.org/x/net/idna", "IDNA conversion only"},
	{"golang.org/x/net/publicsuffix", "public suffix list only"},
}

// DefaultOpaque lists packages, besides the standard library, whose imports
// the transitive mode does not follow: they are judged by the deny list
// alone, like the standard library.
var DefaultOpaque = []Entry{
	{"golang.org/x/sys/...", "the system call layer: rawsocket reports its socket calls where they are made; x/sys/windows imports net only for the net.IP type"},
}
