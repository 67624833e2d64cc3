# mtproxyd in a container. The build stage runs contrib/build-install.sh,
# the script CI runs; the runtime stage has the daemon, its runtime
# libraries and nothing else, and runs as a user of its own.
#
#   docker build -t mtproxyd .
#   docker run -d --name mtproxyd -p 443:443 \
#       -v mtproxyd-conf:/etc/mtproxyd -v mtproxyd-state:/var/lib/mtproxyd mtproxyd
#   docker logs mtproxyd          (the links; set public_host in the config)
#   docker kill -s HUP mtproxyd   (reload after editing the config)
FROM debian:bookworm-slim AS build
COPY . /src
RUN DESTDIR=/out /src/contrib/build-install.sh

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl3 libiniparser1 \
       libcurl4 libmicrohttpd12 libsystemd0 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/mtproxyd \
       --shell /usr/sbin/nologin mtproxyd \
    && install -d -o mtproxyd -g mtproxyd -m 700 /var/lib/mtproxyd \
    && install -d -o root -g mtproxyd -m 750 /etc/mtproxyd
COPY --from=build /out/usr/sbin/mtproxyd /usr/sbin/mtproxyd
COPY --from=build /out/usr/share/man/man8/mtproxyd.8 /usr/share/man/man8/
COPY --from=build /out/etc/mtproxyd.conf.sample /etc/mtproxyd/mtproxyd.conf.sample
# The shipped config on 443: Docker lets containers bind low ports
# without a capability (net.ipv4.ip_unprivileged_port_start is 0).
RUN sed 's/^port = .*/port = 443/' /etc/mtproxyd/mtproxyd.conf.sample \
       > /etc/mtproxyd/mtproxyd.conf \
    && chgrp mtproxyd /etc/mtproxyd/mtproxyd.conf \
    && chmod 640 /etc/mtproxyd/mtproxyd.conf
USER mtproxyd
VOLUME ["/etc/mtproxyd", "/var/lib/mtproxyd"]
EXPOSE 443
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/sbin/mtproxyd"]
CMD ["-c", "/etc/mtproxyd/mtproxyd.conf", "--state-dir", "/var/lib/mtproxyd"]
