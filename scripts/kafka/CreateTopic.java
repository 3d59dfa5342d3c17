// Creates a topic on a Kafka cluster, with configs, unless it exists:
//   java -cp "$KAFKA_HOME/libs/*" scripts/kafka/CreateTopic.java \
//     BOOTSTRAP TOPIC PARTITIONS REPLICATION [key=value ...]
// (Java's single-file source launcher: nothing to build.) The Kafka jars
// have no kafka-topics tool without kafka-tools and its Connect runtime.
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.errors.TopicExistsException;

public class CreateTopic {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: CreateTopic BOOTSTRAP TOPIC PARTITIONS REPLICATION [key=value ...]");
            System.exit(2);
        }
        Map<String, String> configs = new HashMap<>();
        for (int i = 4; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            configs.put(kv[0], kv[1]);
        }
        NewTopic t = new NewTopic(args[1], Integer.parseInt(args[2]), Short.parseShort(args[3])).configs(configs);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]))) {
            admin.createTopics(List.of(t)).all().get();
            System.out.println("created " + args[1]);
        } catch (java.util.concurrent.ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) throw e;
            System.out.println("exists " + args[1]);
        }
    }
}
