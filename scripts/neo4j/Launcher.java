// Local Neo4j Community (embedded DBMS + Bolt connector) for idgraph development and tests.
//
// Run as a single-file source program (no build step), normally through `scripts/services up neo4j`:
//
//   java -cp '.services/lib/neo4j/*' scripts/neo4j/Launcher.java \
//        --home .services/neo4j --bolt 127.0.0.1:7687 [--pagecache 512m]
//
// The password of the `neo4j` user is read from the environment variable IDGRAPH_NEO4J_PASSWORD
// (default "idgraph-dev"). Authentication is ENABLED: after the DBMS has started, the launcher sets
// that password on the built-in `neo4j` user (through the system database, which embedded code may
// administer without credentials) and clears its "password change required" flag. Only after that
// does it print the line "IDGRAPH-NEO4J READY ..." that scripts/services waits for. The SHA-256 of the
// password applied is kept in <home>/.idgraph-password.sha256 so later starts skip that step (delete
// the file to force it, e.g. after changing the password with Cypher).
//
// SIGTERM / SIGINT run a shutdown hook that shuts the DBMS down cleanly (checkpoint + store close).

import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

public class Launcher {

    private static final String DEFAULT_PASSWORD = "idgraph-dev";

    public static void main(String[] args) throws Exception {
        Path home = Path.of(".services/neo4j");
        String bolt = "127.0.0.1:7687";
        String pagecache = "512m";
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String v = (i + 1 < args.length) ? args[i + 1] : null;
            switch (a) {
                case "--home" -> { home = Path.of(require(a, v)); i++; }
                case "--bolt" -> { bolt = require(a, v); i++; }
                case "--pagecache" -> { pagecache = require(a, v); i++; }
                default -> {
                    System.err.println("unknown argument: " + a);
                    System.err.println("usage: Launcher.java [--home DIR] [--bolt HOST:PORT] [--pagecache SIZE]");
                    System.exit(2);
                }
            }
        }
        String password = System.getenv().getOrDefault("IDGRAPH_NEO4J_PASSWORD", DEFAULT_PASSWORD);
        if (password.isEmpty()) {
            password = DEFAULT_PASSWORD;
        }

        home = home.toAbsolutePath().normalize();
        Files.createDirectories(home);
        int colon = bolt.lastIndexOf(':');
        SocketAddress boltAddress = new SocketAddress(bolt.substring(0, colon), Integer.parseInt(bolt.substring(colon + 1)));

        PrintStream out = System.out;
        out.println("IDGRAPH-NEO4J starting: home=" + home + " bolt=" + boltAddress + " ("
                + ManagementFactory.getRuntimeMXBean().getUptime() + " ms after JVM start)");
        out.flush();

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setUserLogProvider(new Log4jLogProvider(out, Level.INFO))
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, boltAddress)
                .setConfig(BoltConnector.advertised_address, boltAddress)
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.udc_enabled, false) // no usage reports (no internet here anyway)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.parse(pagecache))
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false) // no 256 MiB tx log files
                // Bolt's Netty event loops wait 5 s (twice) for quiet on shutdown; 1 s is plenty locally.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 1)
                .build();
        out.println("IDGRAPH-NEO4J DBMS started (" + ManagementFactory.getRuntimeMXBean().getUptime() + " ms after JVM start)");

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            out.println("IDGRAPH-NEO4J shutting down");
            out.flush();
            try {
                dbms.shutdown();
                out.println("IDGRAPH-NEO4J stopped cleanly");
            } catch (Throwable t) {
                out.println("IDGRAPH-NEO4J error during shutdown: " + t);
            } finally {
                out.flush();
                stopped.countDown();
            }
        }, "idgraph-neo4j-shutdown"));

        try {
            setPassword(dbms, home, password, out);
            // Make sure the default database is available before announcing readiness.
            dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME).executeTransactionally("RETURN 1");
        } catch (Throwable t) {
            out.println("IDGRAPH-NEO4J failed to initialise: " + t);
            t.printStackTrace(out);
            out.flush();
            System.exit(1);
        }

        out.println("IDGRAPH-NEO4J READY bolt://" + boltAddress + " user=neo4j auth=enabled ("
                + ManagementFactory.getRuntimeMXBean().getUptime() + " ms after JVM start)");
        out.flush();
        stopped.await();
    }

    private static String require(String flag, String value) {
        if (value == null) {
            System.err.println(flag + " needs a value");
            System.exit(2);
        }
        return value;
    }

    /**
     * Sets the password of the built-in `neo4j` user, unless it already is that password.
     * A marker file (SHA-256 of the password last applied) under the home directory lets later
     * starts skip the Cypher round trip; delete it to force the password to be applied again.
     */
    private static void setPassword(DatabaseManagementService dbms, Path home, String password, PrintStream out)
            throws Exception {
        Path marker = home.resolve(".idgraph-password.sha256");
        String digest = HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(password.getBytes(StandardCharsets.UTF_8)));
        if (Files.isRegularFile(marker) && Files.readString(marker).trim().equals(digest)) {
            out.println("IDGRAPH-NEO4J password of user neo4j unchanged since the last start");
            out.flush();
            return;
        }
        GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PLAINTEXT PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
            out.println("IDGRAPH-NEO4J password of user neo4j set");
        } catch (RuntimeException e) {
            String msg = String.valueOf(e.getMessage()) + " " + String.valueOf(e.getCause());
            if (msg.contains("Old password and new password cannot be the same")) {
                // Already set on an earlier start; make sure no password change is pending.
                system.executeTransactionally("ALTER USER neo4j SET PASSWORD CHANGE NOT REQUIRED");
                out.println("IDGRAPH-NEO4J password of user neo4j already set");
            } else {
                throw e;
            }
        }
        Files.writeString(marker, digest + "\n");
        out.flush();
    }
}
