// Creates a topic on a Kafka cluster, with configs, unless it exists:
//   java -cp "$KAFKA_HOME/libs/*" scripts/kafka/CreateTopic.java \
//     [--command-config client.properties] BOOTSTRAP TOPIC PARTITIONS REPLICATION [key=value ...]
// (Java's single-file source launcher: nothing to build.) --command-config
// gives the admin client's settings (TLS, SASL), as kafka-topics.sh's does.
// The Kafka jars have no kafka-topics tool without kafka-tools and its
// Connect runtime.
import java.io.FileReader;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.errors.TopicExistsException;

public class CreateTopic {
    public static void main(String[] args) throws Exception {
        Properties client = new Properties();
        int a = 0;
        if (args.length > 1 && args[0].equals("--command-config")) {
            try (FileReader r = new FileReader(args[1])) {
                client.load(r);
            }
            a = 2;
        }
        if (args.length - a < 4) {
            System.err.println("usage: CreateTopic [--command-config FILE] BOOTSTRAP TOPIC PARTITIONS REPLICATION [key=value ...]");
            System.exit(2);
        }
        Map<String, String> configs = new HashMap<>();
        for (int i = a + 4; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            configs.put(kv[0], kv[1]);
        }
        NewTopic t = new NewTopic(args[a + 1], Integer.parseInt(args[a + 2]), Short.parseShort(args[a + 3])).configs(configs);
        client.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[a]);
        try (Admin admin = Admin.create(client)) {
            admin.createTopics(List.of(t)).all().get();
            System.out.println("created " + args[a + 1]);
        } catch (java.util.concurrent.ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) throw e;
            System.out.println("exists " + args[a + 1]);
        }
    }
}
