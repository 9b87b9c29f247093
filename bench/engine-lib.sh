# Shared by bench/engine-*.sh: a throwaway nginx on 127.0.0.1 and the release binary.
# Source it; it defines start_nginx PORT ROOT, stop_nginx, ensure_release.

ensure_nginx() {
  if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    apt-get update -qq && apt-get install -y -qq nginx >/dev/null
  fi
}

# start_nginx DIR: serves DIR/www on 127.0.0.1:$NGINX_PORT (static files, plus
# POST /oauth/revoke answered 200 with an empty body, as RFC 7009 servers do).
start_nginx() {
  local dir="$1"
  ensure_nginx
  mkdir -p "$dir/www" "$dir/nginx-tmp"
  cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/nginx-tmp;
  proxy_temp_path $dir/nginx-tmp;
  fastcgi_temp_path $dir/nginx-tmp;
  uwsgi_temp_path $dir/nginx-tmp;
  scgi_temp_path $dir/nginx-tmp;
  keepalive_requests 1000000;
  default_type application/json;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $dir/www;
    location = /oauth/revoke { return 200; }
  }
}
CONF
  /usr/sbin/nginx -c "$dir/nginx.conf" -p "$dir" &
  NGINX_PID=$!
  for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$NGINX_PORT/ping.json" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "nginx did not start; see $dir/nginx-error.log" >&2
  return 1
}

stop_nginx() {
  [ -n "${NGINX_PID:-}" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
}

ensure_release() {
  cargo build --quiet --release --bin stanch
}
